"""What secrets and values tables cost per release: redaction and values documents as a project grows.

``overhead_bench.py``'s releases hold no values and no secrets. Real ones do, and
both costs grew with the project: every log line went through one regex alternation
of every secret of the run, and each release's values table was parsed by PyYAML
several times. This bench measures, interleaved and side by side in one run:

1. **redaction** (in a child process per checkout): microseconds to redact one log
   line with 10 / 100 / 1,000 / 3,000 passwords hidden (each also in base64), and
   the time to add 300 secrets one at a time with a redaction after each (a
   release adding its own Secret's values, then logging);
2. **apply**: ``firestream apply --yes --concurrency 8`` of 100 and 1,000 instant
   releases through ``overhead_bench.py``'s bash-builtin fake helm and kubectl, each
   release with an ``auth.password`` in a values table (and, at 1,000, in a values
   file of its own instead): wall time and firestream's own CPU per release. A
   password found in the output fails the bench.

With ``--compare-tree DIR`` (e.g. ``git worktree add --detach /tmp/fs-before
<commit>``) the same runs for that checkout, interleaved. Verdicts: redaction at
3,000 secrets within 2x of at 10; per-release CPU at 1,000 releases with a secret
each <= 5 ms (issue 13's per-release budget); growth 100 -> 1,000 within 1.5x.

    python bench/secrets_bench.py [--repeats 3] [--compare-tree DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead_bench as ob  # noqa: E402 - the sibling bench's fakes and runner

ROOT = Path(__file__).resolve().parent.parent
COUNTS = (10, 100, 1000, 3000)
LINE = "INFO release 'i0042': Deploying Helm chart bitnami/postgresql 12.1.0 into namespace db, timeout 300s"

REDACT_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from firestream_core.tools.redact import Redactor
out = {{}}
for n in {counts!r}:
    r = Redactor([f"pw-{{i:05d}}-4f1c9e7a2b" for i in range(n)])
    r.redact("warm")  # compiled once, as the first log line of a run does
    reps = 2000 if n < 1000 else 200
    t = time.perf_counter()
    for _ in range(reps):
        r.redact({line!r})
    out[str(n)] = (time.perf_counter() - t) / reps * 1e6
r = Redactor()
t = time.perf_counter()
for i in range(300):
    r.add(f"generated-{{i:05d}}-5d2a")
    r.redact(f"release r{{i}}: generated-{{i:05d}}-5d2a")
out["add300"] = time.perf_counter() - t
print(json.dumps(out))
"""


def redaction(root: Path) -> dict[str, float]:
    code = REDACT_CHILD.format(root=str(root), counts=COUNTS, line=LINE)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(out.stdout)


def secret_folder(root: Path, n: int, kind: str = "table") -> ob.Folder:
    """``overhead_bench``'s instant-N folder, each release given a password in a values
    table (``kind="table"``) or in a values file of its own (``kind="file"``)."""
    names = [f"i{i:04d}" for i in range(n)]
    f = ob.Folder(root, ob.Shape(f"secrets-{n}", {k: [] for k in names}, {k: 0.0 for k in names}))
    blocks = [b for b in (f.root / "firestream.toml").read_text().split("\n\n") if b.strip()]
    (f.root / "values").mkdir()
    out = []
    for b, k in zip(blocks, names, strict=True):
        if kind == "table":
            out.append(f'{b}\n[deployments.generic.values.auth]\nusername = "app"\npassword = "pw-{k}-9c41e27b"\n\n')
        else:
            (f.root / "values" / f"{k}.yaml").write_text(f"auth:\n  username: app\n  password: pw-{k}-9c41e27b\n")
            out.append(f'{b}\nvalues_files = ["values/{k}.yaml"]\n\n')
    (f.root / "firestream.toml").write_text("".join(out))
    return f


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="runs per cell (median)")
    p.add_argument("--compare-tree", type=Path, metavar="DIR", help="also run this checkout, interleaved")
    args = p.parse_args()
    trees = {"fs": ROOT}
    if args.compare_tree:
        trees["before"] = args.compare_tree.resolve()

    red: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    cases = ((100, "table"), (1000, "table"), (1000, "file"))
    runs: dict[tuple[str, int, str], list[dict[str, float]]] = {(k, *c): [] for k in trees for c in cases}
    tmp = Path(tempfile.mkdtemp(prefix="fs-secrets-"))
    counter = 0
    for rep in range(args.repeats):
        order = list(trees.items()) if rep % 2 == 0 else list(reversed(trees.items()))
        for key, root in order:
            red[key].append(redaction(root))
        for n, kind in cases:
            for key, root in order:
                counter += 1
                folder = secret_folder(tmp / f"{counter:03d}-{key}-{n}-{kind}", n, kind)
                got = ob.run_firestream(folder, 8, 900.0, root)
                if "pw-i0000-" in (folder.root / "fs.err").read_text():
                    raise SystemExit(f"{key}: a password reached the output ({folder.root})")
                runs[(key, n, kind)].append(got)
                shutil.rmtree(folder.root, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    print(f"median of {args.repeats}, interleaved" + (f"; before = {trees['before']}" if "before" in trees else ""))
    print("\nredaction, us per log line, by number of passwords hidden (each also in base64):")
    print(f"{'':10}" + "".join(f"{n:>10}" for n in COUNTS) + f"{'add 300 one by one':>22}")
    for key in trees:
        cells = [med(r[str(n)] for r in red[key]) for n in COUNTS]
        add = med(r["add300"] for r in red[key])
        print(f"{key:10}" + "".join(f"{c:>10.1f}" for c in cells) + f"{add:>20.2f} s")

    print("\napply --concurrency 8, a password in each release's values table or values file:")
    print(f"{'':10}{'rel':>6}{'password in':>13}{'wall s':>9}{'cpu s':>8}{'cpu/rel ms':>12}")
    for key in trees:
        for n, kind in cases:
            rs = runs[(key, n, kind)]
            print(f"{key:10}{n:>6}{kind:>13}{med(r['wall'] for r in rs):>9.2f}{med(r['cpu'] for r in rs):>8.2f}"
                  f"{med(r['cpu'] for r in rs) / n * 1000:>12.2f}")

    fs_red = {n: med(r[str(n)] for r in red["fs"]) for n in COUNTS}
    per = {n: med(r["cpu"] for r in runs[("fs", n, "table")]) / n * 1000 for n in (100, 1000)}
    verdicts = [
        (f"redaction cost independent of the number of secrets: {fs_red[3000]:.1f} us at 3,000 "
         f"<= 2 x {fs_red[10]:.1f} us at 10", fs_red[3000] <= 2 * fs_red[10]),
        (f"per-release work at 1,000 releases with a secret each c8: cpu {per[1000]:.2f} ms <= 5 ms",
         per[1000] <= 5.0),
        (f"growth with secrets c8: cpu/release at 1,000 {per[1000]:.2f} ms <= 1.5 x at 100 {per[100]:.2f} ms",
         per[1000] <= 1.5 * per[100]),
    ]
    print("\nverdicts:")
    for text, ok in verdicts:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
