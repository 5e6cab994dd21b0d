"""``firestream completion bash|zsh|fish``: a shell completion script on stdout.

The script completes the subcommands and each one's options (read from the
parsers, so it never lags behind the code)::

    firestream completion bash > ~/.local/share/bash-completion/completions/firestream
    firestream completion zsh > "${fpath[1]}/_firestream"
    firestream completion fish > ~/.config/fish/completions/firestream.fish
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")

EXAMPLES = """
firestream completion bash > ~/.local/share/bash-completion/completions/firestream
source <(firestream completion bash)
firestream completion zsh > "${fpath[1]}/_firestream"
firestream completion fish > ~/.config/fish/completions/firestream.fish
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, bool, str]]:
    """Every option string of ``parser``: (flag, takes a value, help)."""
    out = []
    for action in parser._actions:
        takes = action.nargs != 0
        for flag in action.option_strings:
            out.append((flag, takes, (action.help or "").replace("%(default)s", "")))
    return out


def _commands() -> dict[str, tuple[str, list[tuple[str, bool, str]], list[str]]]:
    """Subcommand -> (help, options, positional choices)."""
    from firestream_core.cli.main import COMMANDS, build_parser

    out = {}
    for name, (_module, help_text) in COMMANDS.items():
        parser = build_parser(name)
        sub = parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr,index]
        choices = [c for a in sub._actions if not a.option_strings and a.choices for c in a.choices]
        out[name] = (help_text, _options(sub), [str(c) for c in choices])
    return out


def _bash() -> str:
    from firestream_core.cli.main import _GLOBAL_VALUE_FLAGS, build_parser

    commands = _commands()
    globals_ = " ".join(f for f, _t, _h in _options(build_parser(None)))
    cases = []
    for name, (_h, opts, choices) in commands.items():
        words = " ".join([f for f, _t, _h in opts] + choices)
        cases.append(f'        {name}) opts="{words}" ;;')
    value_flags = "|".join(_GLOBAL_VALUE_FLAGS)
    return f"""# bash completion for firestream (firestream completion bash)
_firestream() {{
    local cur cmd="" i w
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case "$w" in
            {value_flags}) ((i++)) ;;
            -*) ;;
            *) cmd="$w"; break ;;
        esac
    done
    local opts
    case "$cmd" in
        "") opts="{' '.join(commands)} {globals_}" ;;
{chr(10).join(cases)}
        *) opts="" ;;
    esac
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}}
complete -o default -F _firestream firestream
"""


def _zsh() -> str:
    return "#compdef firestream\n# zsh completion for firestream (firestream completion zsh)\n" \
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash().split("\n", 1)[1]


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish() -> str:
    from firestream_core.cli.main import build_parser

    commands = _commands()
    lines = ["# fish completion for firestream (firestream completion fish)",
             "complete -c firestream -f"]
    names = " ".join(commands)
    for flag, takes, text in _options(build_parser(None)):
        lines.append(_fish_flag(flag, takes, text, "true"))
    for name, (help_text, opts, choices) in commands.items():
        lines.append(f"complete -c firestream -n 'not __fish_seen_subcommand_from {names}' -a {name} "
                     f"-d {_fish_quote(help_text)}")
        cond = f"__fish_seen_subcommand_from {name}"
        for flag, takes, text in opts:
            lines.append(_fish_flag(flag, takes, text, cond))
        if choices:
            lines.append(f"complete -c firestream -n '{cond}' -a {_fish_quote(' '.join(choices))}")
    return "\n".join(lines) + "\n"


def _fish_flag(flag: str, takes: bool, text: str, cond: str) -> str:
    kind = "-l " + flag[2:] if flag.startswith("--") else "-s " + flag[1:]
    value = " -r -F" if takes else ""
    return f"complete -c firestream -n '{cond}' {kind}{value} -d {_fish_quote(text.split('(')[0].strip()[:60])}"


def run(args: argparse.Namespace) -> int:
    print({"bash": _bash, "zsh": _zsh, "fish": _fish}[args.shell](), end="")
    return 0
