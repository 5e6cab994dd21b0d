"""Every error firestream raises on purpose.

Each carries a message meant for a person: it names the file, key, plugin or
release concerned and never contains a sensitive value. The CLI prints
``str(error)`` on one line (plus ``hint`` when set) and exits non-zero; a
traceback is shown only with ``-v``.
"""

from __future__ import annotations


class FirestreamError(Exception):
    """Base class: an expected failure with a readable message.

    Raise it (or a subclass) from a stage for a failure the user can act on:
    the CLI prints the message and the ``hint`` on one line each, without a
    traceback, and exits with ``exit_code``.

    >>> err = FirestreamError("release 'web': values file 'web.yaml' not found",
    ...                       hint="check 'values_files' in firestream.toml")
    >>> str(err), err.hint, err.exit_code
    ("release 'web': values file 'web.yaml' not found", "check 'values_files' in firestream.toml", 1)
    """

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, for a one-line report; its type's name when it
    says nothing.

    >>> first_line(FirestreamError("kubectl get failed: forbidden\\nsecond line"))
    'kubectl get failed: forbidden'
    >>> first_line(KeyError())
    'KeyError'
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- configuration ----------------------------------------------------------
class ConfigError(FirestreamError):
    """The configuration file is missing, malformed or invalid.

    ``problems`` lists every problem found (``path: message``), so all of
    them can be reported at once; an error that is one problem (the file is
    missing, a dependency cycle) lists its message, so ``problems`` is never
    empty.
    """

    def __init__(self, message: str, problems: list[str] | None = None, *, hint: str | None = None):
        self.problems = list(problems or [message])
        full = message if not problems else message + "\n" + "\n".join(
            f"  {p}" for p in self.problems
        )
        super().__init__(full, hint=hint)


class GraphError(ConfigError):
    """The ``depends_on`` graph is invalid (cycle or unknown release)."""


class CycleError(GraphError):
    """``depends_on`` forms a cycle; ``cycle`` lists its members in order."""

    def __init__(self, cycle: list[str], source: str | None = None) -> None:
        self.cycle = cycle
        where = f" in {source}" if source else ""
        super().__init__(f"dependency cycle{where}: " + " -> ".join(cycle))


class UnknownDependencyError(GraphError):
    """A release depends on a release the project does not define."""

    def __init__(self, release: str, missing: str, source: str | None = None) -> None:
        self.release = release
        self.missing = missing
        where = f" ({source})" if source else ""
        super().__init__(
            f"release '{release}' depends on '{missing}', which is not defined{where}"
        )


# -- plugins ------------------------------------------------------------------
class PluginError(FirestreamError):
    """A plugin failed to load, does not match the hookspecs, or clashes."""


class PluginConfigError(ConfigError, PluginError):
    """A project that cannot be loaded because a plugin it uses is broken, disabled or
    clashes: a ``ConfigError`` listing every problem of the file, and a ``PluginError``."""


class UnknownChartTypeError(ConfigError):
    """A deployment names a chart type no installed plugin provides."""


# -- helm and the cluster -------------------------------------------------------
class HelmError(FirestreamError):
    """A helm or kubectl call failed. ``stderr`` is already redacted.

    The helm and kubectl layers raise it (as one of the subclasses below); a
    stage can catch it to decide what to do:

    >>> try:
    ...     raise HelmError("helm upgrade of 'web' failed", release="web", stderr="Error: UPGRADE FAILED")
    ... except FirestreamError as exc:
    ...     (type(exc).__name__, exc.release, exc.stderr)
    ('HelmError', 'web', 'Error: UPGRADE FAILED')
    """

    def __init__(
        self,
        message: str,
        *,
        release: str | None = None,
        stderr: str = "",
        hint: str | None = None,
    ) -> None:
        self.release = release
        self.stderr = stderr
        super().__init__(message, hint=hint)


class HelmNotInstalledError(HelmError):
    """The helm (or kubectl) binary cannot be found or run."""


class ClusterUnreachableError(HelmError):
    """The Kubernetes API server cannot be reached."""


class ChartNotFoundError(HelmError):
    """The chart, its version or its repository cannot be found."""


class ReleaseLockedError(HelmError):
    """The release is in a pending-* state: another operation holds it."""


class HelmTimeoutError(HelmError):
    """helm gave up waiting (``--wait``/``--timeout``) or a stage timed out.

    A stage that waits itself raises it when the release's timeout passed:

    >>> err = HelmTimeoutError("release 'db': the operator did not report Ready within 600s",
    ...                        release="db")
    >>> isinstance(err, HelmError), err.release
    (True, 'db')
    """


class RenderError(HelmError):
    """The chart failed to render (template or values error)."""


class HelmCommandError(HelmError):
    """Any other helm/kubectl failure; ``stderr`` is redacted."""


class ImmutableFieldError(HelmCommandError):
    """The API server refused to change an immutable field of an object (a Deployment's or a
    StatefulSet's selector, a StatefulSet's volumeClaimTemplates...): the message names each
    object and field, the hint how to go on."""


class RegistryAuthError(HelmError):
    """An OCI registry or a chart repository refused the credentials, or asked for some and got none."""


class CancelledError(FirestreamError):
    """The run was interrupted (Ctrl-C or a stage timeout)."""

    exit_code = 130

    def __init__(self, message: str = "interrupted", *, releases: list[str] | None = None):
        self.releases = list(releases or [])
        super().__init__(message)


# -- lifecycle and state ------------------------------------------------------
class PrerequisiteError(FirestreamError):
    """``check_prerequisites`` found the release cannot be deployed.

    The runner raises it from the problems ``check_prerequisites`` returned; a
    later stage may raise it too when it finds what is missing:

    >>> raise PrerequisiteError("release 'db': Secret 'db-auth' (existing_secret) does not exist",
    ...                         hint="create it, or drop existing_secret")
    Traceback (most recent call last):
    ...
    firestream_core.errors.PrerequisiteError: release 'db': Secret 'db-auth' (existing_secret) does not exist
    """


class ValidationFailedError(FirestreamError):
    """At least one validation check failed for a release.

    The runner raises it when a ``validate`` result failed (never a stage: a
    stage returns :meth:`ValidationResult.fail <firestream_core.model.ValidationResult.fail>`);
    ``on_deploy_failure`` receives it as ``error``:

    >>> from firestream_core.plugin import hookimpl
    >>> @hookimpl
    ... def on_deploy_failure(chart, context, payload, stage, error):
    ...     if isinstance(error, ValidationFailedError):
    ...         return [f"validation failed: {error}"]
    ...     return None
    >>> on_deploy_failure(None, None, {}, "validate", ValidationFailedError("endpoint: refused"))
    ['validation failed: endpoint: refused']
    """


class StageFailedError(FirestreamError):
    """A lifecycle stage of a release raised; ``cause`` is what it raised.

    The message reads ``release 'web' failed at exec: <reason>`` (reason
    redacted). ``release`` and ``stage`` name where it happened.
    """

    def __init__(
        self, message: str, *, release: str, stage: str, cause: BaseException | None = None
    ) -> None:
        self.release = release
        self.stage = stage
        self.cause = cause
        super().__init__(message, hint=getattr(cause, "hint", None))


class PlanMismatchError(FirestreamError):
    """Apply would do what the plan did not show (the cluster or the config changed since).

    ``release`` names the release concerned (empty for the whole plan).
    """

    def __init__(self, message: str, *, release: str = "", hint: str | None = None) -> None:
        self.release = release
        super().__init__(message, hint=hint)


class StateError(FirestreamError):
    """The state file is unreadable or of an unknown schema."""


class StateLockedError(StateError):
    """Another firestream process holds the project's lock."""


class DependentsDeployedError(FirestreamError):
    """A destroy would remove a release that still-deployed releases depend on (named)."""


class SelectorError(FirestreamError):
    """A ``-l`` selector that cannot be read or selects nothing, or a selection flag without one."""
