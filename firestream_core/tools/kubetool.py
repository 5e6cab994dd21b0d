"""What :class:`~firestream_core.tools.helm.Helm` and :class:`~firestream_core.tools.kubectl.Kubectl` share.

Both run one outside program against one cluster: a shared
:class:`~firestream_core.tools.process.Runner` (so Ctrl-C stops every child),
a binary named by an environment variable or found on PATH, the
``--kubeconfig`` / context flags, extra environment variables and a
:class:`~firestream_core.tools.redact.Redactor` for what they report. Every
call goes through :func:`~firestream_core.tools.process.run_tool`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import ClassVar

from firestream_core.tools.helm_args import kube_flags
from firestream_core.tools.process import (
    Completed,
    ProgramNotFoundError,
    Runner,
    install_hint,
    run_tool,
)
from firestream_core.tools.redact import Redactor


class KubeTool:
    """The plumbing of a cluster tool; a subclass names its program and flags.

    :param runner: the process runner (a shared one lets ``terminate_all`` stop
        every child of a run); a new one by default.
    :param binary: default ``$<binary_env>``, else the program on PATH.
    :param kube_context: passed with :attr:`context_flag`.
    :param env: variables added to the program's environment.
    :param redactor: values hidden from errors and logs.
    """

    program: ClassVar[str]
    """The program's name: the default binary, the install hint's key, the calls' label."""
    binary_env: ClassVar[str]
    """The environment variable naming the binary."""
    context_flag: ClassVar[str]
    """How the program takes a kubeconfig context (``--kube-context`` / ``--context``)."""

    kubeconfig: str | os.PathLike[str] | None
    """Passed as ``--kubeconfig``; the subclass sets it (a ``Path`` or a string)."""

    def __init__(
        self,
        runner: Runner | None,
        binary: str | os.PathLike[str] | None,
        *,
        kube_context: str | None,
        env: Mapping[str, str] | None,
        redactor: Redactor | None,
    ) -> None:
        self.runner = runner if runner is not None else Runner(redactor=redactor)
        self.binary = os.fspath(binary or os.environ.get(self.binary_env) or self.program)
        self.kube_context = kube_context
        self.env = dict(env or {})
        self.redactor = redactor if redactor is not None else Redactor()

    def _call(
        self,
        args: Sequence[str],
        *,
        what: str,
        kube: bool = True,
        stdin: bytes | None = None,
        timeout: float | None = None,
        label: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        """``<binary> <args>`` (+ the kubeconfig / context flags unless ``kube`` is off), run once,
        with this tool's variables (or ``env``, given whole)."""
        argv = self.argv(args) if kube else [self.binary, *args]
        return run_tool(self.runner, self.program, argv, what=what, env=self.env if env is None else env,
                        stdin=stdin, timeout=timeout, label=label)

    def argv(self, args: Sequence[str]) -> list[str]:
        """``<binary> <args>`` and this tool's kubeconfig / context flags: how it runs ``args``.

        >>> from firestream_core.tools.helm import Helm
        >>> Helm(binary="/opt/helm", kubeconfig="/k/config", kube_context="prod").argv(["list"])
        ['/opt/helm', 'list', '--kubeconfig', '/k/config', '--kube-context', 'prod']
        """
        flags = kube_flags(self.kubeconfig, self.kube_context, context_flag=self.context_flag)
        return [self.binary, *args, *flags]

    def program_env(self) -> dict[str, str]:
        """The environment for another program run against this tool's cluster.

        This tool's variables, plus ``KUBECONFIG`` naming its kubeconfig
        unless they set one (e.g. a chart's ``pre_upgrade_commands``).

        >>> from firestream_core.tools.kubectl import Kubectl
        >>> Kubectl(binary="kubectl", kubeconfig="/k/config", env={"HOME": "/h"}).program_env()
        {'HOME': '/h', 'KUBECONFIG': '/k/config'}
        """
        env = dict(self.env)
        if self.kubeconfig is not None:
            env.setdefault("KUBECONFIG", os.fspath(self.kubeconfig))
        return env

    def _redacted_stderr(self, result: Completed, redactor: Redactor | None = None) -> str:
        """A failed call's stderr with this call's (or the instance's) values hidden."""
        return (redactor or self.redactor).redact(result.stderr)


def check_startable(tool: KubeTool) -> None:
    """Raise :class:`~firestream_core.tools.process.ProgramNotFoundError` (with ``tool``'s
    install hint) when its binary cannot be started: not on the PATH it would get, or not an
    executable file. A file lookup, no program started; nothing to check with a runner whose
    ``run`` is not :meth:`Runner.run <firestream_core.tools.process.Runner.run>` (a test's,
    which may start nothing). Not a method: a stage's ``context.helm`` / ``context.kubectl``
    keep their calls (``plugin/stage_tools.py``)."""
    if getattr(type(tool.runner), "run", None) is not Runner.run:
        return
    try:
        tool.runner.startable(tool.binary, env=tool.env)
    except ProgramNotFoundError as exc:
        exc.hint = install_hint(tool.program)
        raise
