"""cli/commands: one module per subcommand, each registered once and built the same way."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import firestream_core.cli.commands as commands_package
from firestream_core.cli.commands import (
    apply,
    completion,
    destroy,
    diff,
    drift,
    graph,
    import_,
    new,
    plan,
    plugins,
    rollback,
    state,
    status,
    template,
    test,
    validate,
)
from firestream_core.cli.main import COMMANDS, build_parser
from firestream_core.version import __version__

MODULES = (apply, completion, destroy, diff, drift, graph, import_, new, plan, plugins, rollback, state,
           status, template, test, validate)


def test_every_command_module_is_registered_and_every_registration_has_a_module() -> None:
    on_disk = {p.stem for p in Path(commands_package.__file__).parent.glob("*.py") if p.stem != "__init__"}
    registered = {module for module, _help in COMMANDS.values()}
    assert registered == on_disk == {m.__name__.rsplit(".", 1)[1] for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_a_command_adds_its_arguments_and_runs(module) -> None:
    assert callable(module.run)
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    assert parser.format_usage()  # the arguments build


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_commands_parser_carries_its_own_options(name: str) -> None:
    parser = build_parser(name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    own = argparse.ArgumentParser(add_help=False)
    COMMANDS_MODULES[name].add_arguments(own)
    flags = {s for a in own._actions for s in a.option_strings}
    assert flags <= {s for a in sub._actions for s in a.option_strings}


COMMANDS_MODULES = {name: next(m for m in MODULES if m.__name__.endswith("." + module))
                    for name, (module, _help) in COMMANDS.items()}


def test_version_is_the_packages(capsys) -> None:
    from firestream_core.cli.main import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"firestream {__version__}"
