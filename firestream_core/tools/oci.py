"""OCI registries: ``oci://`` chart references, ``helm registry login`` and ``helm push``.

A chart comes from an OCI registry in two ways::

    [[deployments.generic]]
    name = "web"
    chart = "oci://registry.example.com/charts/web"     # the whole reference
    version = "1.2.0"

    [repositories]
    internal = "oci://registry.example.com/charts"      # an OCI "repository"
    [[deployments.generic]]
    name = "api"
    repository = "internal"                             # -> oci://registry.example.com/charts/api
    chart = "api"

OCI repositories are never ``helm repo add``-ed: :func:`resolve_oci_charts`
rewrites such a release's chart to ``<url>/<chart>`` when the project loads.

Credentials are configured per registry host, never in a URL::

    [registries."registry.example.com"]
    username = "deploy"
    password_env = "REGISTRY_PASSWORD"     # or password_file = "secrets/registry-password"
    insecure = false                       # skip TLS verification (--insecure-skip-tls-verify)
    plain_http = false                     # talk HTTP, not HTTPS (--plain-http; loopback registries)

:class:`RegistryLogins` logs in (``helm registry login --password-stdin``:
the password goes on standard input, never on argv) the first time a run
uses a chart of that host, once per registry per run, and adds
``--plain-http`` / ``--insecure-skip-tls-verify`` to every helm call that
fetches a chart from it. A refused login raises
:class:`~firestream_core.errors.RegistryAuthError` naming the host, the user
and where the password came from (the variable's name or the file's path),
never the password; it is not retried within the run.

helm keeps the credentials in its registry config file
(``$HELM_CONFIG_HOME/registry/config.json``), as ``helm registry login``
always does.

The same ``[registries."host"]`` entry serves a classic (``https://``) chart
repository on that host: :meth:`RegistryLogins.repo_access` gives
``helm repo add`` the user, the password (on stdin) and
``--insecure-skip-tls-verify`` (``Helm.repo_add``); helm keeps them in its
``repositories.yaml``, as ``helm repo add --username`` always does.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from firestream_core.errors import ConfigError, FirestreamError, HelmError, RegistryAuthError
from firestream_core.tools.helm import RepoAccess

if TYPE_CHECKING:
    from firestream_core.model import HelmChart
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.redact import Redactor

__all__ = [
    "OCI_SCHEME",
    "RegistryConfig",
    "RegistryCredentialsError",
    "RegistryLogins",
    "is_oci",
    "oci_chart_ref",
    "oci_host",
    "read_password",
    "registry_problems",
    "resolve_oci_charts",
]

OCI_SCHEME = "oci://"

_HOST = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$"  # compiled on first use


class RegistryCredentialsError(ConfigError):
    """A registry's password cannot be read (variable unset, file missing)."""


@attrs.frozen
class RegistryConfig:
    """``[registries."host[:port]"]``: how to reach one OCI registry.

    :ivar username: the user to log in as (no login when None).
    :ivar password_env: the environment variable holding the password.
    :ivar password_file: a file holding the password (relative to the
        project folder; one trailing newline is dropped).
    :ivar insecure: skip TLS certificate verification.
    :ivar plain_http: use HTTP instead of HTTPS (a loopback or lab registry).
    """

    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    insecure: bool = False
    plain_http: bool = False

    @property
    def password_source(self) -> str:
        """Where the password comes from, for messages: ``$VAR`` or ``file 'path'``."""
        if self.password_env:
            return f"${self.password_env}"
        if self.password_file:
            return f"file '{self.password_file}'"
        return "nowhere"


def registry_problems(host: str, cfg: RegistryConfig, where: str) -> list[str]:
    """What is wrong with one ``[registries]`` entry (``where`` is its dotted path)."""
    problems: list[str] = []
    if host.startswith(OCI_SCHEME) or "://" in host:
        problems.append(f"{where}: write the registry host without a scheme (e.g. \"{oci_host(host)}\")")
    elif not re.match(_HOST, host):
        problems.append(f"{where}: not a registry host ('host' or 'host:port')")
    if cfg.password_env and cfg.password_file:
        problems.append(f"{where}: give password_env or password_file, not both")
    has_password = bool(cfg.password_env or cfg.password_file)
    if cfg.username and not has_password:
        problems.append(f"{where}: username given without password_env or password_file")
    if has_password and not cfg.username:
        problems.append(f"{where}: a password needs a username")
    if cfg.password_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", cfg.password_env):
        problems.append(f"{where}.password_env: not an environment variable name")
    return problems


# -- references ------------------------------------------------------------------------------


def is_oci(ref: object) -> bool:
    """True for an ``oci://`` reference."""
    return isinstance(ref, str) and ref.startswith(OCI_SCHEME)


def oci_host(ref: str) -> str:
    """The registry host of ``oci://host[:port]/path`` (``host[:port]``)."""
    text = ref if "://" in ref else OCI_SCHEME + ref
    return urlsplit(text).netloc


def oci_chart_ref(url: str, chart: str) -> str:
    """``oci://host/path`` + ``chart`` -> ``oci://host/path/chart``."""
    return url.rstrip("/") + "/" + chart.strip("/")


def resolve_oci_charts(charts: Iterable[HelmChart], repositories: Mapping[str, str]) -> list[HelmChart]:
    """The charts with each release of an ``oci://`` repository pointed at ``<url>/<chart>``.

    ``repository = "internal"`` with ``internal = "oci://host/charts"`` and
    ``chart = "api"`` becomes ``chart = "oci://host/charts/api"`` (no
    repository): helm pulls it directly, there is nothing to ``repo add``.
    A ``repo/`` in ``chart`` names the repository, as for helm
    (:func:`firestream_core.model.chart_in_repository`): ``chart = "internal/api"`` is the
    same chart, and ``chart = "mirror/api"`` comes from ``mirror`` whatever ``repository`` says.
    Other charts are returned unchanged (the same objects).
    """
    from firestream_core.model import chart_in_repository  # loaded with the charts given

    out: list[HelmChart] = []
    for chart in charts:
        info = chart.chart_info
        found = chart_in_repository(info)
        url = repositories.get(found[0]) if found else None
        if found is not None and url is not None and is_oci(url) and found[1]:
            new_info = attrs.evolve(info, chart=oci_chart_ref(url, found[1]), repository=None)
            chart = attrs.evolve(chart, chart_info=new_info)
        out.append(chart)
    return out


# -- credentials -----------------------------------------------------------------------------


def read_password(
    host: str,
    cfg: RegistryConfig,
    *,
    project_dir: Path | str = ".",
    environ: Mapping[str, str] | None = None,
) -> str:
    """The password of ``cfg``, from its environment variable or file.

    :raises RegistryCredentialsError: the variable is unset or empty, the file
        cannot be read or is empty (the message names them, never a value).
    """
    env = os.environ if environ is None else environ
    if cfg.password_env:
        value = env.get(cfg.password_env)
        if not value:
            raise RegistryCredentialsError(
                f"registry '{host}': the password variable ${cfg.password_env} is not set",
                hint=f"export {cfg.password_env}=... before running firestream",
            )
        return value
    if cfg.password_file:
        path = Path(cfg.password_file).expanduser()
        if not path.is_absolute():
            path = Path(project_dir) / path
        from firestream_core.tools.readfile import MIB, UnreadableFile, read_bounded

        try:
            text = read_bounded(path, MIB).decode("utf-8")
        except (UnreadableFile, UnicodeDecodeError) as exc:
            reason = exc.reason if isinstance(exc, UnreadableFile) else "not UTF-8 text"
            raise RegistryCredentialsError(
                f"registry '{host}': cannot read the password file '{cfg.password_file}' ({reason})"
            ) from None
        if text.endswith("\n"):
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
        if not text:
            raise RegistryCredentialsError(f"registry '{host}': the password file '{cfg.password_file}' is empty")
        return text
    raise RegistryCredentialsError(f"registry '{host}': no password_env or password_file configured")


class RegistryLogins:
    """Logs in to each configured registry once per run and gives the flags its charts need.

    One instance belongs to one :class:`~firestream_core.tools.helm.Helm` (one
    run). Thread-safe: releases deploying in parallel from one registry
    share a single ``helm registry login``; a refused login is remembered
    and raised again without asking helm.

    :param registries: host -> :class:`RegistryConfig` (``[registries]``).
    :param project_dir: folder that relative ``password_file`` paths start from.
    :param environ: where ``password_env`` variables are read (default
        ``os.environ``; a project's extra ``env`` is looked at first).
    :param redactor: every password read is registered with it.
    """

    def __init__(
        self,
        registries: Mapping[str, RegistryConfig] | None = None,
        *,
        project_dir: Path | str = ".",
        environ: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.registries = dict(registries or {})
        self.project_dir = Path(project_dir)
        self.environ = environ
        self.redactor = redactor
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._done: dict[str, BaseException | None] = {}
        if redactor is not None:
            # a password variable is a secret from the start of the run, not from the login:
            # helm version / helm list / kubectl run before it and must not inherit it
            env = os.environ if environ is None else environ
            for cfg in self.registries.values():
                value = env.get(cfg.password_env) if cfg.password_env else None
                if value:
                    redactor.add(value)

    def config_for(self, ref: str) -> RegistryConfig | None:
        """The configuration of the registry ``ref`` (an ``oci://`` reference or a host) lives on."""
        return self.registries.get(oci_host(ref))

    def flags(self, ref: str) -> list[str]:
        """``--plain-http`` / ``--insecure-skip-tls-verify`` for a chart fetched from ``ref``."""
        cfg = self.config_for(ref)
        if cfg is None:
            return []
        out = []
        if cfg.plain_http:
            out.append("--plain-http")
        if cfg.insecure:
            out.append("--insecure-skip-tls-verify")
        return out

    @property
    def logged_in(self) -> list[str]:
        """The hosts this run logged in to successfully."""
        with self._lock:
            return [h for h, e in self._done.items() if e is None]

    def ensure(self, helm: Helm, ref: str) -> None:
        """Log in to ``ref``'s registry if it has credentials and this run has not yet.

        :raises RegistryAuthError: the registry refused them (now or earlier in the run).
        :raises RegistryCredentialsError: the password cannot be read.
        """
        host = oci_host(ref)
        cfg = self.registries.get(host)
        if cfg is None or not cfg.username:
            return
        with self._lock:
            if host in self._done:
                error = self._done[host]
                if error is not None:
                    raise error
                return
            lock = self._host_locks.setdefault(host, threading.Lock())
        with lock:
            with self._lock:
                if host in self._done:
                    error = self._done[host]
                    if error is not None:
                        raise error
                    return
            try:
                self._login(helm, host, cfg)
            except (HelmError, FirestreamError) as exc:
                with self._lock:
                    self._done[host] = exc
                raise
            with self._lock:
                self._done[host] = None

    def _password(self, helm: Helm, host: str, cfg: RegistryConfig) -> str:
        """``cfg``'s password (helm's own ``env`` looked at first), given to the redactor."""
        environ: Mapping[str, str] = self.environ if self.environ is not None else os.environ
        password = read_password(host, cfg, project_dir=self.project_dir,
                                 environ={**environ, **getattr(helm, "env", {})})
        if self.redactor is not None:
            self.redactor.add(password)
        return password

    def _login(self, helm: Helm, host: str, cfg: RegistryConfig) -> None:
        password = self._password(helm, host, cfg)
        assert cfg.username is not None
        try:
            helm.registry_login(host, cfg.username, password, cfg.insecure, plain_http=cfg.plain_http)
        except RegistryAuthError as exc:
            raise RegistryAuthError(
                f"registry '{host}' refused the login of user '{cfg.username}' "
                f"(password from {cfg.password_source})",
                stderr=exc.stderr,
                hint=f"check the user name and the password in {cfg.password_source}",
            ) from None

    def prepare(self, helm: Helm, ref: str) -> list[str]:
        """Log in if needed (:meth:`ensure`), then the flags for ``ref`` (:meth:`flags`)."""
        self.ensure(helm, ref)
        return self.flags(ref)

    def repo_access(self, helm: Helm, url: str) -> RepoAccess | None:
        """The credentials and TLS setting of the classic chart repository at ``url``, from its
        host's ``[registries]`` entry; None when it has none.

        :raises RegistryCredentialsError: the password cannot be read (the message names the
            variable or the file).
        """
        host = oci_host(url)
        cfg = self.registries.get(host)
        if cfg is None:
            return None
        if not cfg.username:
            return RepoAccess(insecure=cfg.insecure)
        return RepoAccess(cfg.username, self._password(helm, host, cfg), cfg.insecure, cfg.password_source)
