"""Check that two sweeps of the same checkpoints stored the same results, byte for byte.

A refactor of the sweep must not change what it measures. Sweep the demo's checkpoints with the
old code and with the new (same flags, two run directories), then compare them::

    git worktree add /tmp/old <base commit>
    PYTHONPATH=/tmp/old python -m curriculens sweep runs/demo/checkpoints --out /tmp/r/old --quiet
    python -m curriculens sweep runs/demo/checkpoints --out /tmp/r/new --quiet
    python benchmarks/compare_resweep.py /tmp/r/old /tmp/r/new

Compared: ``curriculens export --what scores`` (CSV bytes, the run name column aside), every
stored row with its per-item outcomes (the float32 bytes), the probe items, the task vectors,
and the run's config, skill and probe-config metadata. Exit status 1 names what differs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from curriculens.analysis.table import CONFIGS_META_KEY, SKILLS_META_KEY
from curriculens.store import Store


def _export_scores(run: Path, dest: Path) -> list[str]:
    """The run's ``export --what scores`` lines, without the run-name column."""
    cmd = [sys.executable, "-m", "curriculens", "export", str(run), "--what", "scores"]
    subprocess.run([*cmd, "-o", str(dest), "--quiet"], check=True, capture_output=True)
    return [line.split(",", 1)[1] for line in dest.read_text().splitlines()]


def _stored(run: Path) -> dict[str, list]:
    """What the store holds, keyed by table, with the run name and timings left out."""
    with Store(run, readonly=True) as s:
        rows = [
            {**{k: v for k, v in r.items() if k not in ("run", "items")}, "items": _bytes(r)}
            for r in s.rows(items=True)
        ]
        items = [{k: v for k, v in r.items() if k != "run"} for r in s.items()]
        vectors = [
            {**{k: v for k, v in r.items() if k not in ("run", "data")}, "data": _bytes(r, "data")}
            for r in s.vectors()
        ]
        meta = s.meta()
        runs = [v for k, v in meta.items() if k.startswith("run:")]
        kept = {
            "config": [r.get("config") for r in runs],
            "skills": [r.get("skills") for r in runs],
            SKILLS_META_KEY: meta.get(SKILLS_META_KEY),
            CONFIGS_META_KEY: meta.get(CONFIGS_META_KEY),
        }
    return {"rows": rows, "items": items, "vectors": vectors, "meta": [kept]}


def _bytes(r: dict, key: str = "items") -> bytes | None:
    v = r.get(key)
    return None if v is None else v.tobytes()


def compare(old: Path, new: Path) -> list[str]:
    """What differs between the two runs (empty when they stored the same results)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        a = _export_scores(old, Path(tmp) / "old.csv")
        b = _export_scores(new, Path(tmp) / "new.csv")
    if a != b:
        diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        problems.append(f"export --what scores: {len(a)} vs {len(b)} lines, first diff at {diff}")
    sa, sb = _stored(old), _stored(new)
    for table in sa:
        if sa[table] != sb[table]:
            problems.append(f"{table}: {len(sa[table])} vs {len(sb[table])} entries differ")
    print(
        f"compared {len(a)} score lines, {len(sa['rows'])} rows "
        f"({sum(r['items'] is not None for r in sa['rows'])} with per-item outcomes), "
        f"{len(sa['items'])} items, {len(sa['vectors'])} task vectors"
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path, help="run directory swept with the old code")
    p.add_argument("new", type=Path, help="run directory swept with the new code")
    args = p.parse_args(argv)
    problems = compare(args.old, args.new)
    for line in problems:
        print("DIFFERS:", line)
    print("identical" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
