"""Typed errors from a failed helm or kubectl call: its exit and stderr -> an error class and message.

* :func:`classify` picks the class from helm's stderr (a release lock, an
  unreachable cluster, a timeout, a missing release or chart, a rendering
  error; anything else is ``HelmCommandError``).
* :func:`helm_error` / :func:`kubectl_error` build the error a call raises:
  the message names the operation (and release) and carries the stderr
  reduced by :func:`summarize`; ``HINTS`` says what to check.

The stderr given here is already redacted by the caller: no value is ever
in a message.
"""

from __future__ import annotations

import re
import signal

from firestream_core.errors import (
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmCommandError,
    HelmError,
    HelmTimeoutError,
    RegistryAuthError,
    ReleaseLockedError,
    RenderError,
)
from firestream_core.tools.process import Completed

__all__ = [
    "HINTS",
    "UNREACHABLE",
    "ReleaseNotFoundError",
    "classify",
    "helm_error",
    "kubectl_error",
    "summarize",
]


class ReleaseNotFoundError(HelmCommandError):
    """The release does not exist (``helm status``/``history``/``get`` of an unknown release)."""


class _OnFirstUse:
    """A regular expression compiled when it is first searched.

    Only a failed call's stderr is read with these, so a run where every call
    succeeds compiles none of them (compiled at import, they cost every plan and
    apply about 1.5 ms). Two threads failing at once may both compile it: same result.

    >>> _OnFirstUse(r"not found", re.I).search("Error: release NOT FOUND") is not None
    True
    """

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._pattern, self._flags)
        return compiled.search(text)


_LOCKED = _OnFirstUse(r"another operation \(install/upgrade/rollback\) is in progress", re.I)
UNREACHABLE = _OnFirstUse(
    r"kubernetes cluster unreachable|connection refused|no such host|unable to connect to the server"
    r"|dial tcp|network is unreachable|tls handshake timeout|no route to host"
    r"|i/o timeout|server has asked for the client to provide credentials"
    r"|couldn't get current server api group list",
    re.I,
)
_CLUSTERUNREACHABLE = _OnFirstUse(r"kubernetes cluster unreachable", re.I)
_REGISTRY_AUTH = _OnFirstUse(
    r"response status code 40[13]|basic credential not found|unauthorized: authentication required"
    r"|denied: requested access to the resource is denied",
    re.I,
)
_REGISTRY_CONTEXT = _OnFirstUse(r"authenticating to|/v2/|oci://|registry", re.I)
_CHART_FETCH = _OnFirstUse(r'"\S*(/v2/|index\.yaml|\.tgz|\.prov)\S*"|oci://', re.I)
_TIMEOUT = _OnFirstUse(
    r"context deadline exceeded|timed out waiting|timeout waiting|wait(ing)? timed out", re.I
)
_ROLLED_BACK = _OnFirstUse(r"has been rolled back due to", re.I)
_UNINSTALLED = _OnFirstUse(r"has been uninstalled due to", re.I)
_RELEASE_NOT_FOUND = _OnFirstUse(r"release: not found|release not found|has no deployed releases", re.I)
_CHART_NOT_FOUND = _OnFirstUse(
    r"chart \S+ not found|no chart (version )?(named|found|exists)|chart not found"
    r"|repo \S+ not found|no repo named|no cached repo|not a valid chart repository"
    r"|failed to fetch|failed to download|path \S+ not found|not found in \S+ repository"
    r"|could not find protocol handler|manifest unknown|name unknown|: not found$"
    r"|invalid chart reference|unable to locate chart",
    re.I | re.M,
)
_RENDER = _OnFirstUse(
    r"parse error|template: |execution error|error converting yaml|(?<![.\w])yaml: |unable to build kubernetes objects"
    r"|error validating|values don't meet the specifications|schema\(s\)|render error"
    r"|invalid character|cannot unmarshal|failed to create resource",
    re.I,
)


def classify(stderr: str, *, op: str = "") -> type[HelmError]:
    """The error class for a failed helm call, from its stderr.

    Order matters: a release lock, then an unreachable cluster, a timeout
    (also when helm rolled back because of it), a missing release, a
    missing chart, a rendering error; anything else is ``HelmCommandError``.
    """
    if _LOCKED.search(stderr):
        return ReleaseLockedError
    if _REGISTRY_AUTH.search(stderr) and _REGISTRY_CONTEXT.search(stderr):
        return RegistryAuthError
    if _CLUSTERUNREACHABLE.search(stderr):
        return ClusterUnreachableError
    if UNREACHABLE.search(stderr):
        # a repository or registry that cannot be reached is a chart problem
        return ChartNotFoundError if _CHART_FETCH.search(stderr) else ClusterUnreachableError
    if _TIMEOUT.search(stderr):
        return HelmTimeoutError
    if _RELEASE_NOT_FOUND.search(stderr) and op not in {"upgrade", "template", "pull"}:
        return ReleaseNotFoundError
    if _CHART_NOT_FOUND.search(stderr):
        return ChartNotFoundError
    if _RENDER.search(stderr):
        return RenderError
    return HelmCommandError


HINTS: dict[type[HelmError], str] = {
    ClusterUnreachableError: "check the kubeconfig / --kube-context and that the API server is up",
    ReleaseLockedError: (
        "an earlier helm run was interrupted and left the release pending; "
        "firestream apply recovers it (rollback, or uninstall of a first install)"
    ),
    HelmTimeoutError: "the resources did not become ready in time: see the release's events and pods",
    ChartNotFoundError: "check the chart name, version and repository (helm repo add / registry login)",
    RenderError: "the chart failed to render with the given values",
    RegistryAuthError: "check [registries] in firestream.toml: user name and password for this registry",
}


def summarize(stderr: str, *, limit: int = 20) -> str:
    """helm's stderr reduced to its meaningful lines (warnings dropped), at most ``limit``."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.startswith(
            ("WARNING:", "walk.go:", "W0", "I0", "level=WARN", "level=INFO", "level=DEBUG")
        ):
            continue
        if line.startswith("Error: "):
            line = line[len("Error: ") :]
        lines.append(line)
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... ({len(lines) - limit + 1} more lines)"]
    return "\n".join(lines) or "(no error output)"


def helm_error(
    op: str, result: Completed, stderr: str, *, release: str | None = None, namespace: str | None = None
) -> HelmError:
    """The error a failed ``helm <op>`` raises; ``stderr`` is ``result``'s, redacted."""
    if result.timed_out:
        cls: type[HelmError] = HelmTimeoutError
        detail = f"helm did not finish within {result.duration:.0f}s and was stopped"
    elif result.returncode < 0:
        cls = HelmCommandError
        detail = f"helm was killed by signal {_signal_name(-result.returncode)}"
    else:
        cls = classify(stderr, op=op)
        detail = summarize(stderr)
    where = ""
    if release:
        where = f" for release '{release}'"
        if namespace:
            where += f" in namespace '{namespace}'"
    rolled_back = ""
    if _ROLLED_BACK.search(stderr):
        rolled_back = " (helm rolled the release back)"
    elif _UNINSTALLED.search(stderr):  # a failed first install: nothing to roll back to
        rolled_back = " (helm uninstalled the failed release)"
    message = f"helm {op} failed{where}{rolled_back}: {detail}"
    return cls(message, release=release, stderr=stderr, hint=HINTS.get(cls))


KUBECTL_TIMED_OUT = _OnFirstUse(r"timed out waiting", re.I)


def kubectl_error(op: str, result: Completed, stderr: str) -> HelmError:
    """The error a failed ``kubectl <op>`` raises; ``stderr`` is ``result``'s, redacted."""
    cls: type[HelmError]
    if result.timed_out or KUBECTL_TIMED_OUT.search(stderr):
        cls = HelmTimeoutError
    elif UNREACHABLE.search(stderr):
        cls = ClusterUnreachableError
    else:
        cls = HelmCommandError
    return cls(f"kubectl {op} failed: {summarize(stderr)}", stderr=stderr, hint=HINTS.get(cls))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
