"""How long a user waits for ``curriculens report`` and ``curriculens audit`` on a finished run.

Both commands run as a user runs them, each in a fresh ``python -m curriculens`` process, on a
copy of RUN's store and run files (RUN itself is left as it was):

* ``report_cold_s``: ``report`` with no cache (``.curriculens-cache`` removed before each run):
  every analysis, every figure drawn and saved as SVG, PDF and PNG;
* ``report_warm_s``: ``report`` again with the cache the cold run left (the store unchanged):
  the pages written from the cached sections and figures;
* ``audit_s``: ``audit`` (it has no cache).

Each is the median of ``--repeat`` runs of wall-clock seconds; ``*_cpu_s`` are the same runs'
CPU seconds (user + system of the child), which a busy machine inflates less than wall time.
``ratio_cold_warm`` = cold / warm. With ``--baseline SRC`` the cold report and the audit also
run from another source tree (``PYTHONPATH=SRC``, e.g. a checkout of an earlier commit) in the
same session, and ``speedup_*`` = baseline / this tree. Goals (an idle machine): report cold
<= 10 s, audit <= 5 s on the one-seed demo.

    python -m curriculens demo -o runs/demo1 --seeds 1     # once: the run to time
    python benchmarks/bench_report.py runs/demo1 [--repeat 3] [--baseline ../main] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"report_cold_s": 10.0, "audit_s": 5.0}
#: The run files a report reads besides the store (its closing JSON).
RUN_FILES = ("results.sqlite", "demo.json", "train_summary.json", "train_config.json",
             "sweep_config.json")  # fmt: skip


def _copy_run(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in RUN_FILES:
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    return dest


def _timed(argv: list[str], src: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m curriculens ARGV`` run from source tree ``src``."""
    env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "curriculens", *argv],
        env=env,
        cwd=src,  # ``-m`` puts the working directory first on the path: run from src itself
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 1):  # audit exits 1 when a skill is leaky
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return (round(statistics.median(w for w, _ in runs), 2),
            round(statistics.median(c for _, c in runs), 2))  # fmt: skip


def measure(run: Path, src: Path, repeat: int, *, warm: bool = True) -> dict:
    """Cold report, warm report (unless not ``warm``) and audit of a copy of ``run``."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        copy = _copy_run(run, Path(d) / run.name)
        report = ["report", str(copy), "--quiet"]
        cold = []
        for _ in range(repeat):
            shutil.rmtree(copy / ".curriculens-cache", ignore_errors=True)
            cold.append(_timed(report, src))
        out["report_cold_s"], out["report_cold_cpu_s"] = _median(cold)
        if warm:
            hot = [_timed(report, src) for _ in range(repeat)]
            out["report_warm_s"], out["report_warm_cpu_s"] = _median(hot)
        audit = [_timed(["audit", str(copy), "--quiet"], src) for _ in range(repeat)]
        out["audit_s"], out["audit_cpu_s"] = _median(audit)
    return out


def _text(r: dict) -> str:
    """The measurements as lines for a reader."""
    line = "{:<12} {:6.2f} s  (cpu {} s)".format
    lines = [
        line("report cold", r["report_cold_s"], r["report_cold_cpu_s"]),
        line("report warm", r["report_warm_s"], r["report_warm_cpu_s"])
        + f"  cold/warm {r['ratio_cold_warm']}x",
        line("audit", r["audit_s"], r["audit_cpu_s"]),
    ]
    if "baseline" in r:
        b = r["baseline"]
        lines.append(
            f"baseline {b['src']}: report cold {b['report_cold_s']} s (cpu "
            f"{b['report_cold_cpu_s']} s), audit {b['audit_s']} s (cpu {b['audit_cpu_s']} s); "
            f"speedup report {r['speedup_report_cold']}x, audit {r['speedup_audit']}x"
        )
    lines.append(
        f"load average {r['load_before']} -> {r['load_after']} on {r['cpus']} CPUs (wall time "
        "on a busy machine overstates an idle one's)"
    )
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a finished run directory (results.sqlite)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (median)")
    ap.add_argument("--baseline", type=Path, help="another source tree to time the same way")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    args = ap.parse_args(argv)
    if not (args.run / "results.sqlite").is_file():
        raise SystemExit(
            f"{str(args.run)!r} holds no results.sqlite; make a run with "
            "'python -m curriculens demo -o DIR --seeds 1' and pass DIR."
        )
    here = Path(__file__).resolve().parents[1]
    load = os.getloadavg()[0]
    result: dict = {"run": str(args.run), **measure(args.run, here, args.repeat)}
    result["ratio_cold_warm"] = round(result["report_cold_s"] / result["report_warm_s"], 1)
    if args.baseline is not None:
        base = measure(args.run, args.baseline.resolve(), args.repeat, warm=False)
        result["baseline"] = {"src": str(args.baseline), **base}
        for k in ("report_cold_s", "audit_s"):
            result[f"speedup_{k.removesuffix('_s')}"] = round(base[k] / result[k], 1)
    result["goals_met"] = {k: result[k] <= v for k, v in GOALS.items()}
    result.update(repeat=args.repeat, load_before=round(load, 2),
                  load_after=round(os.getloadavg()[0], 2), cpus=os.cpu_count(),
                  python=platform.python_version())  # fmt: skip
    if not args.json:
        print(_text(result))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
