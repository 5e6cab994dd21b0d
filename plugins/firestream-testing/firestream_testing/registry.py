"""A real OCI registry on loopback for chart tests: Debian's ``docker-registry``.

``docker-registry`` (CNCF distribution 2.8, apt package ``docker-registry``)
serves the OCI distribution API that ``helm push`` / ``helm pull oci://``
speak. :func:`start_registry` runs it as a subprocess (an argument list,
no shell) with its own configuration file in a temporary folder:

* storage in that folder, ``http.addr`` ``127.0.0.1:0`` (the registry picks
  a free port itself; it is read back from the line ``listening on ...`` of
  its log, so there is no port race), plain HTTP;
* basic authentication from an ``htpasswd`` file when ``users`` are given.
  distribution accepts bcrypt entries only; they are made by Apache's
  ``htpasswd -nBi USER`` (apt package ``apache2-utils``) with the password
  on its standard input, never on its command line.

Both packages are installed by ``scripts/install-test-deps`` (``apt-get
install -y docker-registry apache2-utils``). When either is missing, the
``oci_registry`` fixture *fails* with that command in its message; it is
never skipped.

Fixture (registered by the ``firestream`` pytest plugin):

``oci_registry`` (session): a :class:`RegistryProcess` with basic auth on
(user ``firestream``, a random password) and the fixture charts pushed by
the real ``helm push`` under ``charts/`` (``oci://127.0.0.1:PORT/charts/tiny-app``
at 0.1.0 and 0.2.0, ``charts/with-hooks`` at 0.1.0).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = [
    "APT_COMMAND",
    "RegistryError",
    "RegistryProcess",
    "find_program",
    "htpasswd_entry",
    "oci_registry",
    "push_chart",
    "start_registry",
]

APT_COMMAND = "apt-get install -y docker-registry apache2-utils"
"""What installs the registry and ``htpasswd`` (``scripts/install-test-deps`` runs it)."""

REGISTRY_PROGRAM = "docker-registry"
HTPASSWD_PROGRAM = "htpasswd"
ENV_REGISTRY_BINARY = "FIRESTREAM_REGISTRY_BINARY"

_LISTENING = re.compile(rb"listening on (?:\[[^\]]*\]|[0-9.]+):(\d+)")


class RegistryError(RuntimeError):
    """The registry cannot be started (not installed, exited, never listened)."""


def find_program(name: str, env_var: str | None = None) -> str:
    """The path of ``name`` (``$env_var`` first), or ``RegistryError`` saying how to install it."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.is_file()), None
    )
    if found is None:
        raise RegistryError(
            f"'{name}' is not installed: run `{APT_COMMAND}` (as root; scripts/install-test-deps does it)"
        )
    return found


def htpasswd_entry(user: str, password: str) -> str:
    """A bcrypt ``user:$2y$...`` line for distribution's htpasswd auth.

    Runs ``htpasswd -n -B -i USER`` with the password on stdin (not argv).
    """
    program = find_program(HTPASSWD_PROGRAM)
    done = subprocess.run(  # noqa: S603 - an argument list, the password on stdin
        [program, "-n", "-B", "-i", user], input=password.encode(), capture_output=True, check=False,
    )
    line = done.stdout.decode().strip()
    if done.returncode != 0 or not line.startswith(f"{user}:$2"):
        raise RegistryError(f"htpasswd failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return line


def _config_text(root: Path, htpasswd: Path | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'data'}",
        "  delete:",
        "    enabled: true",
        "http:",
        "  addr: 127.0.0.1:0",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: firestream-test", f"    path: {htpasswd}"]
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM the registry when the test process dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)
        except Exception:  # noqa: BLE001 - best effort
            pass


@dataclass
class RegistryProcess:
    """A running ``docker-registry``: ``host`` (``127.0.0.1:PORT``), ``url`` (``oci://host``).

    ``users`` maps user -> password (basic auth on when non-empty).
    """

    pid: int
    port: int
    root: Path
    users: dict[str, str] = field(default_factory=dict, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log: IO[bytes] | None = field(default=None, repr=False)
    pushed: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"oci://{self.host}"

    @property
    def username(self) -> str:
        """The first user (the fixture's ``firestream``)."""
        return next(iter(self.users), "")

    @property
    def password(self) -> str:
        return self.users.get(self.username, "")

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def ref(self, chart: str, path: str = "charts") -> str:
        """``oci://127.0.0.1:PORT/<path>/<chart>``."""
        return f"{self.url}/{path.strip('/')}/{chart}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """Stop the registry (by its PID): SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self) -> RegistryProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry(
    root: Path,
    *,
    users: Mapping[str, str] | None = None,
    binary: str | None = None,
    timeout: float = 30.0,
) -> RegistryProcess:
    """Start ``docker-registry serve`` on a free 127.0.0.1 port; return once it listens.

    :param root: a folder of its own (config, htpasswd, storage, ``registry.log``).
    :param users: user -> password for basic auth (none: anonymous).
    :param binary: the registry program (default ``$FIRESTREAM_REGISTRY_BINARY``
        or ``docker-registry`` on PATH).
    :raises RegistryError: not installed, exited, or not listening within ``timeout``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    program = binary or find_program(REGISTRY_PROGRAM, ENV_REGISTRY_BINARY)
    htpasswd: Path | None = None
    if users:
        htpasswd = root / "htpasswd"
        htpasswd.write_text("".join(htpasswd_entry(u, p) + "\n" for u, p in users.items()))
        htpasswd.chmod(0o600)
    config = root / "config.yml"
    config.write_text(_config_text(root, htpasswd))
    log_path = root / "registry.log"
    log = log_path.open("w+b")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    try:
        process = subprocess.Popen(  # noqa: S603 - an argument list
            [program, "serve", str(config)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    except OSError as e:
        log.close()
        raise RegistryError(f"cannot start {program}: {e}") from e
    deadline = time.monotonic() + timeout
    port = None
    while port is None:
        text = log_path.read_bytes()
        m = _LISTENING.search(text)
        if m:
            port = int(m.group(1))
            break
        if process.poll() is not None:
            log.close()
            tail = text.decode(errors="replace").strip().splitlines()[-3:]
            raise RegistryError(f"{program} exited with {process.returncode} while starting: " + " | ".join(tail))
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.close()
            raise RegistryError(f"{program} did not listen within {timeout:.0f}s (see {log_path})")
        time.sleep(0.02)
    return RegistryProcess(pid=process.pid, port=port, root=root, users=dict(users or {}),
                           process=process, log=log)


def push_chart(
    helm: str | Path,
    archive: Path,
    registry: RegistryProcess,
    path: str = "charts",
    *,
    env: Mapping[str, str] | None = None,
) -> str:
    """``helm registry login`` (password on stdin) then ``helm push --plain-http``; the pushed ref.

    ``env`` should hold private ``HELM_*_HOME`` folders (a temporary set is
    used when None), so the login does not touch the developer's helm.
    """
    own: tempfile.TemporaryDirectory[str] | None = None
    if env is None:
        own = tempfile.TemporaryDirectory(prefix="firestream-push-")
        base = Path(own.name)
        env = {**os.environ, "HELM_CONFIG_HOME": str(base / "config"),
               "HELM_CACHE_HOME": str(base / "cache"), "HELM_DATA_HOME": str(base / "data")}
    try:
        def run(argv: Sequence[str], stdin: bytes | None = None) -> Any:
            done = subprocess.run([str(a) for a in argv], input=stdin, capture_output=True,  # noqa: S603
                                  env=dict(env), check=False)
            if done.returncode != 0:
                raise RegistryError(f"{' '.join(map(str, argv[:3]))} failed: "
                                    f"{done.stderr.decode(errors='replace').strip()}")
            return done

        if registry.users:
            run([str(helm), "registry", "login", registry.host, "--username", registry.username,
                 "--password-stdin", "--plain-http"], registry.password.encode())
        run([str(helm), "push", str(archive), f"{registry.url}/{path.strip('/')}", "--plain-http"])
    finally:
        if own is not None:
            own.cleanup()
    name = Path(archive).name.removesuffix(".tgz")
    chart, _, version = name.rpartition("-")
    ref = f"{registry.url}/{path.strip('/')}/{chart}:{version}"
    registry.pushed.append(ref)
    return ref


# -- the fixture ---------------------------------------------------------------------------

FIXTURE_PUSHES: tuple[tuple[str, str], ...] = (("tiny-app", "0.1.0"), ("tiny-app", "0.2.0"),
                                               ("with-hooks", "0.1.0"))
"""The fixture charts ``oci_registry`` pushes under ``charts/``."""


@pytest.fixture(scope="session")
def oci_registry(
    helm_tools: dict[str, Path], chart_repo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryProcess]:
    """A real OCI registry on 127.0.0.1 with basic auth and the fixture charts pushed.

    User ``oci_registry.username`` (``firestream``), password
    ``oci_registry.password`` (random per session). Charts:
    ``oci_registry.ref("tiny-app")`` at 0.1.0 / 0.2.0, ``ref("with-hooks")``
    at 0.1.0. Fails (never skips) when ``docker-registry`` or ``htpasswd`` is
    not installed, naming the apt command.
    """
    root = tmp_path_factory.mktemp("oci-registry")
    try:
        registry = start_registry(root, users={"firestream": secrets.token_urlsafe(18)})
    except RegistryError as e:
        pytest.fail(f"firestream test kit: cannot start the OCI registry: {e}", pytrace=False)
    try:
        homes = root / "helm"
        env = {**os.environ, "HELM_CONFIG_HOME": str(homes / "config"),
               "HELM_CACHE_HOME": str(homes / "cache"), "HELM_DATA_HOME": str(homes / "data")}
        for chart, version in FIXTURE_PUSHES:
            push_chart(helm_tools["helm"], chart_repo.tgz(chart, version), registry, env=env)
    except (RegistryError, KeyError) as e:
        registry.stop()
        pytest.fail(f"firestream test kit: cannot push the fixture charts: {e}", pytrace=False)
    try:
        yield registry
    finally:
        registry.stop()
