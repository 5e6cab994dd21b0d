"""The version of firestream-core (one place; ``firestream --version`` reads it)."""

__version__ = "0.1.0"
