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
from typing import TYPE_CHECKING

from firestream_core.errors import (
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmCommandError,
    HelmError,
    HelmTimeoutError,
    ImmutableFieldError,
    RegistryAuthError,
    ReleaseLockedError,
    RenderError,
)
from firestream_core.tools.process import Completed

if TYPE_CHECKING:
    from firestream_core.tools.manifests import ImmutableChange

__all__ = [
    "HINTS",
    "UNREACHABLE",
    "ReleaseNotFoundError",
    "chart_render_failure",
    "classify",
    "final_error",
    "helm_error",
    "immutable_refusals",
    "kubectl_error",
    "kubectl_said",
    "summarize",
]


class ReleaseNotFoundError(HelmCommandError):
    """The release does not exist (``helm status``/``history``/``get`` of an unknown release)."""


# What a failed call's stderr says. Each is a pattern string with its flags inline, compiled
# on first use by the ``re`` module's cache (as elsewhere in the project): only a failure
# reads them, so a run where every call succeeds compiles none (at import they cost every
# plan and apply about 1.5 ms).
_LOCKED = r"(?i)another operation \(install/upgrade/rollback\) is in progress"
UNREACHABLE = (
    r"(?i)kubernetes cluster unreachable|connection refused|no such host|unable to connect to the server"
    r"|dial tcp|network is unreachable|tls handshake timeout|no route to host"
    r"|i/o timeout|server has asked for the client to provide credentials"
    r"|couldn't get current server api group list|the connection to the server \S+ was refused"
)
_CLUSTERUNREACHABLE = r"(?i)kubernetes cluster unreachable"
_REGISTRY_AUTH = (
    r"(?i)response status code 40[13]|basic credential not found|unauthorized: authentication required"
    r"|denied: requested access to the resource is denied"
)
_REGISTRY_CONTEXT = r"(?i)authenticating to|/v2/|oci://|registry"
_CHART_FETCH = r'(?i)"\S*(/v2/|index\.yaml|\.tgz|\.prov)\S*"|oci://'
_TIMEOUT = r"(?i)context deadline exceeded|timed out waiting|timeout waiting|wait(ing)? timed out"
_ROLLED_BACK = r"(?i)has been rolled back due to"
_UNINSTALLED = r"(?i)has been uninstalled due to"
_RELEASE_NOT_FOUND = r"(?i)release: not found|release not found|has no deployed releases"
_CHART_NOT_FOUND = (
    r"(?im)chart \S+ not found|no chart (version )?(named|found|exists)|chart not found"
    r"|repo \S+ not found|no repo named|no cached repo|not a valid chart repository"
    r"|failed to fetch|failed to download|path \S+ not found|not found in \S+ repository"
    r"|could not find protocol handler|manifest unknown|name unknown|: not found$"
    r"|invalid chart reference|unable to locate chart"
)
_RENDER = (
    r"(?i)parse error|template: |execution error|error converting yaml|(?<![.\w])yaml: |unable to build kubernetes objects"
    r"|error validating|values don't meet the specifications|schema\(s\)|render error"
    r"|invalid character|cannot unmarshal|failed to create resource"
)


_KLOG = r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]\s]+\] "
"""The header of a line client-go's logger (klog) writes inside helm and kubectl:
``E1207 11:48:09.588388   22196 reflector.go:205] "Failed to watch" ...`` (level, month
and day, time, thread, source). Its month runs 01 to 12: matching ``W0`` / ``I0`` alone let
October to December's lines through."""

_HELM_LOG = ("WARNING:", "walk.go:", "level=WARN", "level=INFO", "level=DEBUG")
"""How the log lines helm writes itself start (not its error)."""


def final_error(stderr: str) -> str:
    """The part of a failed helm call's stderr that says why it failed: from helm's first
    ``Error: ...`` line to the end, without client-go's log lines (klog: ``E1207 ...
    reflector.go:158] ... connection refused``, printed while a watch of ``--wait`` is
    retried, whatever then failed). Without an ``Error:`` line: every line but klog's and
    the log lines helm writes itself (``WARNING:``, ``level=...``). Only when that leaves
    nothing is the whole stderr the account there is.

    >>> final_error('W1207 12:00:01.000000   12345 reflector.go:561] failed to list: connection refused\\n'
    ...             'Error: UPGRADE FAILED: context deadline exceeded\\n')
    'Error: UPGRADE FAILED: context deadline exceeded'
    """
    lines = [line for line in stderr.splitlines() if not re.match(_KLOG, line.strip())]
    start = next((i for i, line in enumerate(lines) if line.startswith("Error: ")), None)
    if start is not None:
        own = lines[start:]
    else:
        own = [line for line in lines if not line.strip().startswith(_HELM_LOG)]
    text = "\n".join(line for line in own if line.strip())
    return text or stderr


def classify(stderr: str, *, op: str = "") -> type[HelmError]:
    """The error class for a failed helm call, from its stderr.

    Only helm's own error is read (:func:`final_error`): a client-go log line saying
    ``connection refused`` while ``--wait`` retried a watch does not make a failed
    hook or a timeout an unreachable cluster.

    Order matters: a release lock, then an unreachable cluster, a timeout
    (also when helm rolled back because of it), a missing release, a
    missing chart, a rendering error; anything else is ``HelmCommandError``.

    >>> classify("Error: Kubernetes cluster unreachable: Get ...: dial tcp: connection refused").__name__
    'ClusterUnreachableError'
    >>> classify('Error: INSTALLATION FAILED: template: web/templates/a.yaml:3: bad', op="upgrade").__name__
    'RenderError'
    >>> classify("Error: something else").__name__
    'HelmCommandError'
    """
    stderr = final_error(stderr)
    if re.search(_LOCKED, stderr):
        return ReleaseLockedError
    if re.search(_REGISTRY_AUTH, stderr) and re.search(_REGISTRY_CONTEXT, stderr):
        return RegistryAuthError
    if re.search(_CLUSTERUNREACHABLE, stderr):
        return ClusterUnreachableError
    if re.search(UNREACHABLE, stderr):
        # a repository or registry that cannot be reached is a chart problem
        return ChartNotFoundError if re.search(_CHART_FETCH, stderr) else ClusterUnreachableError
    if re.search(_TIMEOUT, stderr):
        return HelmTimeoutError
    if immutable_refusals(stderr):
        return ImmutableFieldError
    # (the command's first word: "upgrade --dry-run=server" is an upgrade)
    if re.search(_RELEASE_NOT_FOUND, stderr) and op.split(" ", 1)[0] not in {"upgrade", "install", "template", "pull"}:
        return ReleaseNotFoundError
    if re.search(_CHART_NOT_FOUND, stderr):
        return ChartNotFoundError
    if re.search(_RENDER, stderr):
        return RenderError
    return HelmCommandError


_CHART_FAULT = (
    r"(?is)^(?:execution error at \(|parse error (?:at|in) |template: |values don't meet the specifications of the schema"
    r"|YAML parse error on |[^\s:]+/templates/[^\s:]+:\d+(?::\d+)?\s+executing \""
    r"|an error occurred while checking for chart dependencies|found in Chart\.yaml, but missing in charts/)"
)
"""How helm words a failure that is the chart's or its values' own, whatever the cluster
(helm's ``pkg/engine``, ``pkg/chart/.../util/jsonschema.go``, ``pkg/action/install.go``, the
same in helm 3.19 and 4.3): a ``fail`` or ``required`` (``execution error at (FILE:L:C): MSG``),
a template that does not parse (``parse error at (FILE:L): ...``) or does not execute (helm 3:
``template: FILE:L:C: executing ...``; helm 4 the same without ``template:``, over three lines),
a ``values.schema.json`` violation, rendered YAML that does not parse (``YAML parse error on
FILE: ...``) and a dependency missing from ``charts/``."""

_CLUSTER_IN_RENDER = r"(?i)error calling lookup"
"""A template error that the cluster caused: a ``lookup`` the API server did not answer."""

_HELM_PREFIX = r"(?i)^(?:Error: )?(?:(?:INSTALLATION|UPGRADE) FAILED: )?"


def chart_render_failure(stderr: str) -> str | None:
    """helm's reason, on one line, when a rendering failed because of the chart or its values
    (:data:`_CHART_FAULT`); None when the failure is, or may be, the cluster's: an unreachable
    or slow API server, a lock, a repository or registry, a kind not served, an object another
    release owns, a ``lookup`` that failed, anything not recognised.

    ``stderr`` is already redacted (it is a :class:`~firestream_core.errors.HelmError`'s).

    >>> chart_render_failure('Error: INSTALLATION FAILED: execution error at (web/templates/a.yaml:7:15): '
    ...                      'A valid .Values.auth.password entry is required!')
    'execution error at (web/templates/a.yaml:7:15): A valid .Values.auth.password entry is required!'
    >>> chart_render_failure("Error: values don't meet the specifications of the schema(s) in the following "
    ...                      "chart(s):\\nweb:\\n- at '/replicaCount': got string, want integer\\n")
    "values don't meet the specifications of the schema(s): web: at '/replicaCount': got string, want integer"
    >>> chart_render_failure('Error: Kubernetes cluster unreachable: Get "https://k:6443/version": dial tcp: '
    ...                      'connection refused') is None
    True
    """
    said = final_error(stderr).strip()
    reason = re.sub(_HELM_PREFIX, "", said)
    # helm's own error begins with what failed: a message a chart writes itself (a fail's)
    # may say "not found" or "timeout" without being either
    if not re.match(_CHART_FAULT, reason) or re.search(_CLUSTER_IN_RENDER, reason):
        return None
    lines = [line.strip() for line in reason.splitlines() if line.strip() and not line.strip().startswith("Error: ")]
    if lines and lines[0].startswith("values don't meet the specifications"):
        head = "values don't meet the specifications of the schema(s):"
        parts: list[str] = []
        for line in lines[1:]:
            if line.startswith("- "):
                parts.append(("; " if parts and not parts[-1].endswith(":") else " ") + line[2:])
            else:
                parts.append((" " if not parts else "; ") + line)
        return head + "".join(parts)
    return " ".join(lines)


_INVALID = (r'(?:object (?P<ns>[^/\s:]+)/[^\s:]+ [^:]*?: )?(?P<kind>[A-Za-z]+)(?:\.(?P<group>[a-z0-9.-]+))? '
            r'"(?P<name>[^"]+)" is invalid: (?P<causes>.*?)(?= && |$)')
"""An object the API server refused (422 Invalid), as helm repeats it: ``Deployment.apps "web" is
invalid: spec.selector: ...``; helm 4's server-side apply names its namespace first
(``server-side apply failed for object shop/web apps/v1, Kind=Deployment: ...``); several are
joined by `` && ``."""

_IMMUTABLE_CAUSE = (r"(?P<field>[A-Za-z][\w.\[\]]*): (?:Invalid value: .*?: |Forbidden: )?(?:field is immutable"
                    r"|updates to \w+ spec for fields other than|spec is immutable|field can not be less than"
                    r"|may not change once set|cannot change roleRef)")
"""One cause of a refusal that is about an immutable field, with the field it names."""

_STATEFULSET_SPEC = ("a field other than replicas, ordinals, template, updateStrategy, revisionHistoryLimit, "
                     "persistentVolumeClaimRetentionPolicy and minReadySeconds, such as selector, "
                     "volumeClaimTemplates, serviceName or podManagementPolicy")


def immutable_refusals(stderr: str, namespace: str = "") -> list[ImmutableChange]:
    """The objects and fields the API server refused to change because they are immutable,
    read from a failed helm call's error (``namespace``: for an object the error does not place).

    >>> said = ('Error: UPGRADE FAILED: cannot patch "db" with kind StatefulSet: StatefulSet.apps "db" is '
    ...         "invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
    ...         "'template' and 'updateStrategy' are forbidden")
    >>> [(c.key.kind, c.key.name, c.field) for c in immutable_refusals(said, "data")]
    [('StatefulSet', 'db', 'spec')]
    """
    from firestream_core.tools.manifests import ImmutableChange, ObjectKey

    out: list[ImmutableChange] = []
    for m in re.finditer(_INVALID, final_error(stderr), flags=re.M):
        for cause in re.finditer(_IMMUTABLE_CAUSE, m.group("causes")):
            field = cause.group("field")
            kind = m.group("kind")
            where = "" if kind in ("ClusterRoleBinding", "IngressClass") else m.group("ns") or namespace
            key = ObjectKey(m.group("group") or "", kind, where, m.group("name"))
            detail = _STATEFULSET_SPEC if (key.kind, field) == ("StatefulSet", "spec") else ""
            if "can not be less than" in cause.group(0):
                detail = "a decrease"
            change = ImmutableChange(key, field, detail)
            if change not in out:
                out.append(change)
    return out


def _immutable_detail(changes: list[ImmutableChange]) -> str:
    """What an :class:`ImmutableFieldError` says: each object and field refused, and the way on."""
    from firestream_core.tools.manifests import immutable_way_on

    objects = "; ".join(str(c) for c in changes)
    return (f"the API server refused to change immutable fields: {objects}. To upgrade, "
            f"{immutable_way_on(changes)} ('firestream diff' names each field before apply)")


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
    ImmutableFieldError: "firestream diff and plan --hooks name each immutable field an upgrade changes, before apply",
}



_OCCURRED = r"\d+ errors? occurred:$"
"""The header of go-multierror's list (``1 error occurred:``, then one ``* ...`` line each)."""


def _join_error_lists(lines: list[str]) -> list[str]:
    """go-multierror's lists put on their header's line: ``failed pre-install: 1 error
    occurred:`` + ``* job x failed: BackoffLimitExceeded`` -> ``failed pre-install: job x failed:
    BackoffLimitExceeded`` (several joined with ``; ``), so that the line a reader keeps (a
    summary table, ``firestream test``) says what failed."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = re.search(_OCCURRED, lines[i])
        j = i + 1
        while m and j < len(lines) and lines[j].startswith("* "):
            j += 1
        if m and j > i + 1:
            out.append(lines[i][: m.start()] + "; ".join(item[2:] for item in lines[i + 1 : j]))
            i = j
            continue
        out.append(lines[i])
        i += 1
    return out


def summarize(stderr: str, *, limit: int = 20) -> str:
    """helm's stderr reduced to its meaningful lines (warnings dropped), at most ``limit``.

    client-go's own log lines (klog: ``W1207 ...``, ``E1207 ... "Failed to watch" err="context
    canceled"``) are dropped too: helm says what failed on lines of its own (``Error: ...``).
    Only when nothing else is left are klog's error lines kept, as the one account there is.
    """
    lines: list[str] = []
    klog_errors: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.startswith(_HELM_LOG):
            continue
        if re.match(_KLOG, line):
            if line[0] in "EF":
                klog_errors.append(line)
            continue
        if line.startswith("Error: "):
            line = line[len("Error: ") :]
        lines.append(line)
    lines = _join_error_lists(lines)
    lines = lines or klog_errors
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
        if cls is ImmutableFieldError:
            detail = _immutable_detail(immutable_refusals(stderr, namespace or ""))
    where = ""
    if release:
        where = f" for release '{release}'"
        if namespace:
            where += f" in namespace '{namespace}'"
    rolled_back = ""
    said = final_error(stderr)
    if re.search(_ROLLED_BACK, said):
        rolled_back = " (helm rolled the release back)"
    elif re.search(_UNINSTALLED, said):  # a failed first install: nothing to roll back to
        rolled_back = " (helm uninstalled the failed release)"
    message = f"helm {op} failed{where}{rolled_back}: {detail}"
    return cls(message, release=release, stderr=stderr, hint=HINTS.get(cls))


KUBECTL_TIMED_OUT = r"(?i)timed out waiting"


def kubectl_said(stderr: str) -> str:
    """What a failed kubectl call says itself: its stderr without client-go's log lines
    (klog's ``E1207 ... memcache.go:265] couldn't get current server API group list: ...
    connection refused``, printed while a request is retried, whatever then failed); the
    whole stderr when it holds nothing else. What the failure is (not found, a conflict, an
    unreachable cluster) is read from this: a retry logged on the way does not make a
    ``NotFound`` an unreachable cluster. kubectl's own words for one are kept:
    ``The connection to the server 127.0.0.1:6443 was refused``.

    >>> kubectl_said('E1207 12:00:01.000000   12345 memcache.go:265] "Unhandled Error" err="dial tcp: '
    ...              'connect: connection refused"\\n'
    ...              'Error from server (NotFound): pods "web-0" not found\\n')
    'Error from server (NotFound): pods "web-0" not found'
    """
    own = "\n".join(line for line in stderr.splitlines() if line.strip() and not re.match(_KLOG, line.strip()))
    return own or stderr


def kubectl_error(op: str, result: Completed, stderr: str) -> HelmError:
    """The error a failed ``kubectl <op>`` raises; ``stderr`` is ``result``'s, redacted.
    Its class is read from what kubectl said itself (:func:`kubectl_said`)."""
    cls: type[HelmError]
    said = kubectl_said(stderr)
    if result.timed_out or re.search(KUBECTL_TIMED_OUT, said):
        cls = HelmTimeoutError
    elif re.search(UNREACHABLE, said):
        cls = ClusterUnreachableError
    else:
        cls = HelmCommandError
    return cls(f"kubectl {op} failed: {summarize(stderr)}", stderr=stderr, hint=HINTS.get(cls))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
