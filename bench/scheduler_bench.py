"""Scheduler benchmark: makespan against the critical path, and against helmfile's layers.

Run by hand (never a test)::

    .venv/bin/python bench/scheduler_bench.py                 # in-process, ~1 min
    .venv/bin/python bench/scheduler_bench.py --helmfile      # + helmfile 0.166 through a fake helm
    .venv/bin/python bench/scheduler_bench.py --repeats 3 --quick

Part 1 drives :class:`firestream_core.deploy.scheduler.Scheduler` with work that sleeps
a fixed (or a varied, seeded) time per release, on four shapes, with unlimited
concurrency and with 8, and side by side in the same run a helmfile-style
*layered* executor (longest-path layers run one after another, everything in a
layer in parallel, same work). Per shape it prints the medians of the repeats:
wall time, makespan (first start to last end), the lower bound (critical path;
with 8 slots max(critical path, total work / 8)), their ratio and the target
(unlimited: makespan <= 1.05 x bound + 0.1 s; 8: <= 1.10 x bound + 0.1 s).

Part 2 measures orchestration overhead: 200 independent releases whose work
returns at once (target < 10 ms per release).

Part 3 (``--helmfile``) runs helmfile 0.166 (``python -m
firestream_testing.tools --with-helmfile``) with ``--helm-binary`` a fake
helm that sleeps per release, on a generated helmfile.yaml with ``needs``, and
firestream's scheduler calling the SAME fake helm through
``firestream_core.tools.process.Runner``; makespans come from the fake helm's own
log of each upgrade's start and end. When ``firestream_testing.fakehelm``
exists it provides the fake; until then a minimal sleeper written here does.
``--apply`` adds firestream's full ``firestream apply`` once it exists.

``--compare-tree DIR`` (with ``--apply``) compares two firestreams side by
side in the same run: this checkout's apply and the one of ``DIR`` (e.g. a
``git worktree`` of an earlier commit), each in a child Python importing
``firestream_core`` from its own tree and timing ``Project.load(...).apply()``
itself, interleaved with the other columns, on the same fake helm.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firestream_core.deploy.scheduler import Scheduler, critical_path  # noqa: E402

Deps = dict[str, list[str]]


# -- shapes ------------------------------------------------------------------------------------


@dataclass
class Shape:
    """A DAG and each release's duration."""

    name: str
    deps: Deps
    durations: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.durations.values())

    def bound(self, concurrency: int) -> float:
        cp = critical_path(self.deps, self.durations)
        return cp if concurrency == 0 else max(cp, self.total / concurrency)


def shapes(scale: float = 1.0) -> list[Shape]:
    rng = random.Random(20260126)
    d = 0.2 * scale
    out = []
    wide = {f"w{i:02d}": [] for i in range(50)}
    out.append(Shape("wide-50", wide, dict.fromkeys(wide, d)))
    chain = {f"c{i:02d}": ([f"c{i - 1:02d}"] if i else []) for i in range(20)}
    out.append(Shape("chain-20", chain, dict.fromkeys(chain, d)))
    names = [f"r{i:02d}" for i in range(60)]
    rand: Deps = {}
    for i, n in enumerate(names):  # seeded so that critical path ~ total work / 8: the hard case
        rand[n] = sorted(rng.sample(names[:i], k=min(i, rng.choice([0, 1, 1, 2]))))
    out.append(Shape("random-60", rand, {n: round(rng.uniform(0.05, 0.4) * scale, 3) for n in names}))
    slow: Deps = {"slow": []}
    for c in range(6):
        for j in range(5):
            slow[f"f{c}-{j}"] = [f"f{c}-{j - 1}"] if j else []
    durations = dict.fromkeys(slow, d)
    durations["slow"] = 10 * d
    out.append(Shape("slow-beside-fast", slow, durations))
    return out


def layers(deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """helmfile's layers: releases grouped by longest-path depth from the roots."""
    depth: dict[str, int] = {}

    def level(n: str) -> int:
        if n not in depth:
            depth[n] = 1 + max((level(d) for d in deps[n]), default=-1)
        return depth[n]

    for n in deps:
        level(n)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in sorted(deps):
        out[depth[n]].append(n)
    return out


# -- executors ---------------------------------------------------------------------------------


class Timeline:
    """Start and end times of each piece of work, for the makespan."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[tuple[float, float]] = []

    def sleeper(self, durations: Mapping[str, float]) -> Callable[[str], None]:
        def work(name: str) -> None:
            t0 = time.monotonic()
            time.sleep(durations[name])
            with self.lock:
                self.spans.append((t0, time.monotonic()))

        return work

    @property
    def makespan(self) -> float:
        if not self.spans:
            return 0.0
        return max(e for _, e in self.spans) - min(s for s, _ in self.spans)


def run_firestream(shape: Shape, concurrency: int) -> tuple[float, float]:
    """(wall, makespan) of one scheduler run; estimates = the durations, as recorded."""
    tl = Timeline()
    t0 = time.monotonic()
    result = Scheduler(concurrency).run(shape.deps, tl.sleeper(shape.durations), estimates=shape.durations)
    wall = time.monotonic() - t0
    assert result.ok
    return wall, tl.makespan


def run_layered(shape: Shape, concurrency: int) -> tuple[float, float]:
    """(wall, makespan) of helmfile's strategy: layer after layer, each in parallel."""
    tl = Timeline()
    work = tl.sleeper(shape.durations)
    t0 = time.monotonic()
    for layer in layers(shape.deps):
        with ThreadPoolExecutor(max_workers=concurrency or len(layer)) as pool:
            list(pool.map(work, layer))
    return time.monotonic() - t0, tl.makespan


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- part 1 and 2 ------------------------------------------------------------------------------


def part_makespan(repeats: int, scale: float) -> bool:
    print(f"\n== 1. makespan vs critical path (medians of {repeats}; sleep work, scale {scale}) ==")
    head = (
        f"{'shape':<17}{'conc':>5}{'bound':>8}{'wall':>8}{'makespan':>9}{'ratio':>7}"
        f"{'target':>8}{'ok':>4} | {'layers':>7}{'ratio':>7}{'fs/layers':>10}"
    )
    print(head)
    print("-" * len(head))
    all_ok = True
    for shape in shapes(scale):
        for conc in (0, 8):
            fs_wall, fs_span, ly_span = [], [], []
            for _ in range(repeats):  # interleaved: both see the same machine load
                w, s = run_firestream(shape, conc)
                fs_wall.append(w)
                fs_span.append(s)
                ly_span.append(run_layered(shape, conc)[1])
            bound = shape.bound(conc)
            slack = 1.05 if conc == 0 else 1.10
            target = slack * bound + 0.1
            span = med(fs_span)
            ok = span <= target
            all_ok &= ok
            print(
                f"{shape.name:<17}{conc or 'inf':>5}{bound:>8.3f}{med(fs_wall):>8.3f}{span:>9.3f}"
                f"{span / bound:>7.3f}{target:>8.3f}{'yes' if ok else 'NO':>4} | "
                f"{med(ly_span):>7.3f}{med(ly_span) / bound:>7.3f}{span / med(ly_span):>10.3f}"
            )
    return all_ok


def part_overhead(repeats: int) -> bool:
    print(f"\n== 2. orchestration overhead: 200 independent instant releases (medians of {repeats}) ==")
    deps: Deps = {f"i{i:03d}": [] for i in range(200)}
    ok_all = True
    for conc in (0, 8, 1):
        walls = []
        for _ in range(repeats):
            t0 = time.monotonic()
            Scheduler(conc).run(deps, lambda n: None)
            walls.append(time.monotonic() - t0)
        per = med(walls) / len(deps) * 1000
        ok = per < 10.0
        ok_all &= ok
        print(f"concurrency {conc or 'inf':>4}: wall {med(walls) * 1000:8.1f} ms, "
              f"{per:6.3f} ms per release (target < 10 ms) {'yes' if ok else 'NO'}")
    return ok_all


# -- part 3: helmfile through a fake helm --------------------------------------------------------

_FAKE_KUBECTL = """#!{python} -S
# kubectl stand-in for the benchmark: no pods, so validation has nothing to wait for
print('{{"apiVersion": "v1", "kind": "List", "items": []}}')
"""


class Bench3:
    """One run's folder: the team's recording fake helm, a chart, helmfile.yaml, firestream.toml."""

    def __init__(self, root: Path, shape: Shape) -> None:
        from firestream_testing.fakehelm import FakeHelm

        root.mkdir(parents=True)
        self.root = root
        self.fake = FakeHelm(root / "fake-helm")
        for name, seconds in shape.durations.items():
            self.fake.set_delay(name, seconds)
        chart = root / "chart"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 0.1.0\n")
        self.kubectl = root / "kubectl"
        self.kubectl.write_text(_FAKE_KUBECTL.format(python=sys.executable))
        self.kubectl.chmod(0o755)
        (root / "helmfile.yaml").write_text(helmfile_yaml(shape))
        (root / "firestream.toml").write_text(firestream_toml(shape))

    def makespan(self) -> float:
        """First upgrade's start to last upgrade's end, from the fake helm's call log."""
        calls = self.fake.call_log("upgrade")
        return max(c.end for c in calls) - min(c.start for c in calls)


def helmfile_yaml(shape: Shape) -> str:
    lines = ["releases:"]
    for name, deps in shape.deps.items():
        lines += [f"- name: {name}", "  namespace: bench", "  chart: ./chart"]
        if deps:
            lines.append("  needs: [" + ", ".join(f"bench/{d}" for d in deps) + "]")
    return "\n".join(lines) + "\n"


def firestream_toml(shape: Shape) -> str:
    out = []
    for name, deps in shape.deps.items():
        out.append(f'[[deployments.generic]]\nname = "{name}"\nnamespace = "bench"\npath = "chart"\n')
        if deps:
            out.append("depends_on = [" + ", ".join(f'"{d}"' for d in deps) + "]\n")
        out.append("\n")
    return "".join(out)


def run_helmfile(b: Bench3, helmfile: str, conc: int) -> float:
    from firestream_core.tools.process import Runner

    t0 = time.monotonic()
    done = Runner().run(
        [helmfile, "--helm-binary", str(b.fake.binary), "--file", "helmfile.yaml",
         "sync", "--concurrency", str(conc), "--skip-deps"],
        env=b.fake.env, cwd=b.root,
    )
    wall = time.monotonic() - t0
    if not done.ok:
        raise RuntimeError(f"helmfile failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return wall


def run_scheduler_on_fake(b: Bench3, shape: Shape, conc: int) -> float:
    """firestream's scheduler alone, each release one ``helm upgrade --install`` of the fake."""
    from firestream_core.tools.process import Runner

    runner = Runner()

    def work(name: str) -> object:
        return runner.run(
            [b.fake.binary, "upgrade", "--install", name, "./chart", "--namespace", "bench"],
            env=b.fake.env, cwd=b.root, label=name,
        )

    t0 = time.monotonic()
    result = Scheduler(conc).run(shape.deps, work, estimates=shape.durations)
    wall = time.monotonic() - t0
    if not result.ok:
        raise RuntimeError(f"scheduler run failed: {result.with_status('failed')}")
    return wall


def run_apply(b: Bench3, conc: int) -> float:
    """``Project.load(...).apply(...)``: plan (one helm list), lifecycle, validation, state."""
    from firestream_core.project import Project

    t0 = time.monotonic()
    project = Project.load(b.root / "firestream.toml", helm_binary=b.fake.binary,
                           env=b.fake.env, kubectl_binary=b.kubectl)
    result = project.apply(concurrency=conc)
    wall = time.monotonic() - t0
    if not result.ok:
        bad = {n: (o.result, o.reason) for n, o in result.releases.items() if o.result != "ok"}
        raise RuntimeError(f"firestream apply failed: {bad}")
    return wall


_CHILD_APPLY = """
import json, sys, time
tree, root, helm, env, kubectl, conc = sys.argv[1:]
sys.path.insert(0, tree)
import firestream_core
from firestream_core.project import Project
assert firestream_core.__file__.startswith(tree), firestream_core.__file__
t0 = time.monotonic()
project = Project.load(root + "/firestream.toml", helm_binary=helm, env=json.loads(env), kubectl_binary=kubectl)
result = project.apply(concurrency=int(conc))
wall = time.monotonic() - t0
bad = {n: [o.result, o.reason] for n, o in result.releases.items() if o.result != "ok"}
print(json.dumps({"wall": wall, "ok": result.ok, "bad": bad}))
"""


def run_apply_child(b: Bench3, conc: int, tree: Path) -> float:
    """The full apply of the firestream in ``tree``, in a child Python that times it itself."""
    from firestream_core.tools.process import Runner

    done = Runner().run(
        [sys.executable, "-c", _CHILD_APPLY, str(tree), str(b.root), str(b.fake.binary),
         json.dumps(b.fake.env), str(b.kubectl), str(conc)],
        cwd=b.root,
    )
    if not done.ok:
        raise RuntimeError(f"apply of {tree} failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["ok"]:
        raise RuntimeError(f"firestream apply of {tree} failed: {out['bad']}")
    return float(out["wall"])


def part_helmfile(repeats: int, scale: float, with_apply: bool, compare_tree: Path | None = None) -> None:
    from firestream_core.tools.process import Runner

    print(f"\n== 3. helmfile 0.166 vs firestream through the same fake helm (medians of {repeats}) ==")
    if importlib.util.find_spec("firestream_testing.fakehelm") is None:
        print("not run: firestream_testing.fakehelm (the recording fake helm) is missing")
        return
    helmfile = shutil.which("helmfile") or str(ROOT / ".tools" / "helmfile")
    if not Path(helmfile).exists():
        print("helmfile not found: run  python -m firestream_testing.tools --with-helmfile")
        return
    if with_apply and importlib.util.find_spec("firestream_core.project") is None:
        print("firestream apply: not run, firestream_core.project does not exist yet")
        with_apply = False
    print(Runner().run([helmfile, "--version"]).stdout.strip()
          + "; fake helm: firestream_testing.fakehelm (a python process per helm call)")
    print("wall: whole command; makespan: first upgrade start -> last upgrade end (fake's log)")
    cols = [("helmfile", run_helmfile), ("fs scheduler", None)]
    if with_apply:
        cols.append(("fs apply", None))
    if with_apply and compare_tree is not None:
        print(f"fs apply: this checkout ({ROOT}); fs before: {compare_tree}; "
              "each in a child python timing Project.load + apply")
        cols.append(("fs before", None))
    head = f"{'shape':<17}{'conc':>5}{'bound':>7}" + "".join(
        f" | {name + ' wall':>17}{'span':>7}" for name, _ in cols
    ) + " | " + "  ".join(f"{n.split()[-1]}/hf" for n, _ in cols[1:]) + (
        "  apply/before" if compare_tree is not None and with_apply else ""
    )
    print(head)
    print("-" * len(head))
    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        count = 0
        for shape in shapes(scale):
            for conc in (0, 8):
                walls: dict[str, list[float]] = {n: [] for n, _ in cols}
                spans: dict[str, list[float]] = {n: [] for n, _ in cols}
                for _ in range(repeats):  # interleaved, fresh fake each time
                    for name, _ in cols:
                        count += 1
                        b = Bench3(Path(tmp) / f"run{count}", shape)
                        if name == "helmfile":
                            walls[name].append(run_helmfile(b, helmfile, conc))
                        elif name == "fs scheduler":
                            walls[name].append(run_scheduler_on_fake(b, shape, conc))
                        elif name == "fs before":
                            assert compare_tree is not None
                            walls[name].append(run_apply_child(b, conc, compare_tree))
                        elif compare_tree is not None:  # like for like: both in a child
                            walls[name].append(run_apply_child(b, conc, ROOT))
                        else:
                            walls[name].append(run_apply(b, conc))
                        spans[name].append(b.makespan())
                hf = med(walls["helmfile"])
                print(
                    f"{shape.name:<17}{conc or 'inf':>5}{shape.bound(conc):>7.2f}"
                    + "".join(f" | {med(walls[n]):>17.3f}{med(spans[n]):>7.3f}" for n, _ in cols)
                    + " | " + "  ".join(f"{med(walls[n]) / hf:>{len(n.split()[-1]) + 3}.2f}"
                                        for n, _ in cols[1:])
                    + (f"  {med(walls['fs apply']) / med(walls['fs before']):>12.2f}"
                       if "fs before" in walls else "")
                )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every duration")
    p.add_argument("--quick", action="store_true", help="3 repeats, half durations")
    p.add_argument("--helmfile", action="store_true", help="also compare with helmfile 0.166")
    p.add_argument("--apply", action="store_true",
                   help="with --helmfile: also run firestream's full apply through the fake helm")
    p.add_argument("--compare-tree", type=Path, metavar="DIR",
                   help="with --apply: also the apply of the firestream checkout in DIR "
                        "(e.g. a git worktree of an earlier commit), side by side")
    p.add_argument("--only-part3", action="store_true", help="skip parts 1 and 2")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.scale = 3, args.scale / 2
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, repeats {args.repeats}")
    ok = True
    if not args.only_part3:
        ok = part_makespan(args.repeats, args.scale)
        ok &= part_overhead(max(args.repeats, 5))
    if args.helmfile:
        tree = args.compare_tree.resolve() if args.compare_tree else None
        part_helmfile(max(1, args.repeats // 2 + 1), args.scale, args.apply, tree)
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
