"""Run the Kubernetes API emulator as a subprocess and point a kubeconfig at it.

Python API::

    with start_cluster(tmp_path / "kubeconfig") as cluster:
        run(["helm", "install", ...], env={"KUBECONFIG": str(cluster.kubeconfig), ...})
        cluster.set_controller(False)     # workloads stop becoming ready
        cluster.set_loadbalancer(False)   # LoadBalancer Services stay pending
        cluster.set_status_rules([{"kind": "Kafka", "after": 1}])  # Kafka objects Ready after 1 s

Command line (foreground until SIGINT/SIGTERM)::

    python -m firestream_testing.cluster --port 0 --kubeconfig ./kubeconfig [--no-controller]

The server writes the kubeconfig (plain HTTP, cluster/user/context ``emu``,
token ``dummy``, namespace ``default``) atomically, only once it listens, so
the file's appearance means "ready". Nothing is removed on exit. This is an
emulator for tests (see :mod:`firestream_testing.apiserver` for what it
does not emulate), never a place to deploy anything real.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import attrs
import yaml

from firestream_testing.deps import emulator_hint, missing_modules

__all__ = ["ClusterError", "ClusterProcess", "kubeconfig_text", "main", "start_cluster",
           "write_kubeconfig"]

HOST = "127.0.0.1"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder holding firestream_testing/


class ClusterError(RuntimeError):
    """The emulator could not be started or controlled; the message says why."""


def kubeconfig_text(port: int) -> str:
    """The plain-HTTP kubeconfig for an emulator on ``127.0.0.1:port``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emu", "cluster": {"server": f"http://{HOST}:{port}"}}],
        "users": [{"name": "emu", "user": {"token": "dummy"}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu",
                                                 "namespace": "default"}}],
        "current-context": "emu",
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(path: Path, port: int) -> None:
    """Write the kubeconfig atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(kubeconfig_text(port))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


@attrs.define
class ClusterProcess:
    """A running emulator subprocess. Use as a context manager or call :meth:`stop`."""

    pid: int
    port: int
    url: str
    kubeconfig: Path
    _process: subprocess.Popen[bytes] = attrs.field(repr=False)
    _log: IO[bytes] = attrs.field(repr=False)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{self.url}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as e:
            raise ClusterError(f"{method} {path} -> {e.code}: {e.read().decode(errors='replace')}") from e
        except (urllib.error.URLError, OSError) as e:
            raise ClusterError(f"the emulator at {self.url} is unreachable: {e}") from e

    def state(self) -> dict[str, Any]:
        """``GET /_emulator/state``: ``{"enabled", "loadbalancer", "resourceVersion", "errors"}``."""
        return self._call("GET", "/_emulator/state")

    def set_controller(self, enabled: bool) -> None:
        """Turn the toy controller on/off (off: workloads never become ready)."""
        self._call("POST", "/_emulator/controller", {"enabled": bool(enabled)})

    def set_loadbalancer(self, enabled: bool) -> None:
        """Turn LoadBalancer address assignment on/off (off: addresses stay pending)."""
        self._call("POST", "/_emulator/controller", {"loadbalancer": bool(enabled)})

    def set_status_rules(self, rules: list[dict[str, Any]]) -> None:
        """Custom resources of a kind get a status condition (default ``Ready``) ``after`` seconds.

        ``[{"kind": "Kafka", "group": "kafka.strimzi.io", "after": 0.5}]`` plays the
        Strimzi operator reporting a Kafka Ready; ``[]`` removes every rule.
        """
        self._call("POST", "/_emulator/controller", {"status_rules": list(rules)})

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the subprocess by PID; kill it if it has not exited after ``grace`` s."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(grace)
        self._log.close()

    def __enter__(self) -> ClusterProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_cluster(
    kubeconfig: Path,
    port: int | None = None,
    controller: bool = True,
    log_file: Path | None = None,
    timeout: float = 30.0,
    verbose: bool = False,
) -> ClusterProcess:
    """Start the emulator subprocess on ``127.0.0.1`` and wait until it serves.

    ``port=None`` lets the server pick a free port itself (no race). The call
    returns once the server has (re)written ``kubeconfig``; its output goes to
    ``log_file`` (appended) or to an anonymous temporary file, whose tail is
    quoted in the :class:`ClusterError` if the server dies while starting.
    ``verbose=True`` logs every request there (for debugging a client).
    """
    lacking = missing_modules()
    if lacking:
        raise ClusterError(emulator_hint(lacking))
    kubeconfig = Path(kubeconfig).resolve()
    before = _file_identity(kubeconfig)
    argv = [sys.executable, "-m", "firestream_testing.cluster",
            "--port", str(port or 0), "--kubeconfig", str(kubeconfig), "--exit-with-parent"]
    if not controller:
        argv.append("--no-controller")
    if verbose:
        argv.append("--verbose")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    log: IO[bytes] = log_file.open("ab") if log_file is not None else tempfile.TemporaryFile()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603
                                   stderr=subprocess.STDOUT, env=env)
    except OSError as e:
        log.close()
        raise ClusterError(f"cannot start the emulator: {e}") from e
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace").strip().splitlines()
            log.close()
            raise ClusterError(f"the emulator exited with {process.returncode} while starting: "
                               + (tail[-1] if tail else "no output"))
        current = _file_identity(kubeconfig)
        if current is not None and current != before:
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            log.close()
            raise ClusterError(f"the emulator did not write {kubeconfig} within {timeout:.0f}s")
        time.sleep(0.01)
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    actual_port = int(server.rsplit(":", 1)[1])
    return ClusterProcess(pid=process.pid, port=actual_port, url=server, kubeconfig=kubeconfig,
                          process=process, log=log)


async def _serve(args: argparse.Namespace) -> None:
    from firestream_testing.apiserver.server import Emulator, run_server

    emulator = Emulator(controller=not args.no_controller, loadbalancer=not args.no_loadbalancer)
    kubeconfig = Path(args.kubeconfig).resolve()

    def ready(port: int) -> None:
        write_kubeconfig(kubeconfig, port)
        print(f"firestream Kubernetes API emulator (a test fixture, not a cluster) serving"
              f" http://{HOST}:{port}; kubeconfig {kubeconfig}; controller"
              f" {'on' if not args.no_controller else 'off'}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = await run_server(emulator, HOST, args.port, ready)
    try:
        if args.exit_with_parent:
            parent = os.getppid()
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except TimeoutError:
                    if os.getppid() != parent:
                        break
        else:
            await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m firestream_testing.cluster",
        description="Run firestream's Kubernetes API emulator (for tests) in the foreground.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--no-controller", action="store_true",
                        help="start with the toy controller off (workloads never get ready)")
    parser.add_argument("--no-loadbalancer", action="store_true",
                        help="start with LoadBalancer address assignment off")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every request (method, path, content type, status) on stderr")
    parser.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lacking = missing_modules()
    if lacking:
        print(f"firestream emulator: error: {emulator_hint(lacking)}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="emulator %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(args))
    except OSError as e:
        print(f"firestream emulator: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
