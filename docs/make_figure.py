"""Regenerate the README's figure, ``docs/img/timeline.png``, from a demo run.

    python docs/make_figure.py                  # trains and sweeps the default demo first (~4 min)
    python docs/make_figure.py runs/demo        # or reads a finished demo run

The figure is ``curriculens.plots.plot_timeline`` of the run's curriculum (the same function the
report's timeline uses), saved as a 150-dpi PNG so the README stays light.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

IMG = Path(__file__).resolve().parent / "img" / "timeline.png"


def make_figure(run: str | Path, out: str | Path = IMG) -> Path:
    """Plot the timeline of ``run`` into ``out``; returns ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import curriculens as cl
    import curriculens.plots as clp

    fig = clp.plot_timeline(cl.curriculum(run))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150, bbox_inches="tight")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="a finished demo run (default: run the demo)")
    parser.add_argument("-o", "--out", default=str(IMG), help=f"PNG to write (default {IMG})")
    args = parser.parse_args(argv)
    if args.run:
        print(make_figure(args.run, args.out))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "demo"
        cmd = [sys.executable, "-m", "curriculens", "demo", "--out", str(run), "--quiet"]
        subprocess.run(cmd, check=True)
        print(make_figure(run, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
