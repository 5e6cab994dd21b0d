"""The environment a child program (helm, kubectl, a pre-upgrade command) is given.

Not firestream's own: the variables that hold secrets for ``secret_values``
or a ``*_env`` option must never reach a child, where any process of the same
user can read them in ``/proc/<pid>/environ``. A child gets an allow-list
(docs/secrets.md): what helm and kubectl need to find their programs,
configuration, caches, cluster and proxies, plus the names the user lists in
``FIRESTREAM_CHILD_ENV`` (comma separated, ``fnmatch`` patterns allowed).
Variables the caller passes for the call (``--kubeconfig``, the test kit's
settings) are added on top. A variable whose value is a registered secret is
dropped, whichever way it came.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Container, Mapping

__all__ = ["ALLOWED_NAMES", "ALLOWED_PREFIXES", "CHILD_ENV", "child_environment", "passes"]

CHILD_ENV = "FIRESTREAM_CHILD_ENV"
"""Extra variable names (or patterns) children may see, comma separated."""

ALLOWED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TEMP", "TMP", "TZ", "TERM", "NO_COLOR",
    "LANG", "LANGUAGE", "KUBECONFIG", "DOCKER_CONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    # files and profiles read by kubeconfig exec plugins (no secret in them)
    "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "AZURE_CONFIG_DIR",
})
"""Variables every child gets when set."""

ALLOWED_PREFIXES = ("HELM_", "KUBE", "LC_", "XDG_")
"""Variables starting with these too (``HELM_CACHE_HOME``, ``KUBECACHEDIR``, ``LC_ALL``)."""


def _extra_patterns(environ: Mapping[str, str]) -> list[str]:
    return [p.strip() for p in environ.get(CHILD_ENV, "").split(",") if p.strip()]


def passes(name: str, extra: list[str] | tuple[str, ...] = ()) -> bool:
    """True when a variable named ``name`` is on the allow-list (or matches one of ``extra``)."""
    if name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES):
        return True
    return any(fnmatch.fnmatchcase(name, p) for p in extra)


def child_environment(
    env: Mapping[str, str] | None = None,
    *,
    secrets: Container[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one child: the allow-listed part of ``environ`` plus ``env``.

    :param env: the call's own variables (added, overriding).
    :param secrets: registered secret values (a ``Redactor`` works): a
        variable holding one is dropped.
    :param environ: the environment to filter (default ``os.environ``).
    """
    base = os.environ if environ is None else environ
    extra = _extra_patterns(base)
    out = {k: v for k, v in base.items() if passes(k, extra)}
    out.update(env or {})
    return {k: v for k, v in out.items() if not (v and v in secrets)}
