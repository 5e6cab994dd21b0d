"""One module per ``firestream`` subcommand, imported only when that command runs."""
