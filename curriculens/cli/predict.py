"""The ``curriculens predict`` command: how well each composite's curve is predicted by
combining its components' curves (product, min, mean), scored by R² per model.

``add_parser(subparsers)`` registers the subcommand on the main CLI's subparsers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from curriculens import params
from curriculens.cli._args import (
    add_import_flags,
    add_json_flag,
    add_selection_flags,
    input_selection,
    is_store,
    load_input_curves,
)
from curriculens.errors import ConfigError

_HELP = "Predict each composite's curve from its components' curves and score the prediction."
_EPILOG = """\
INPUT is a run directory or .sqlite store, an lm-evaluation-harness results directory, or a
tidy CSV (the paper's trajectories file). A composite is a skill that declares components (in a
run's snapshot or the registry) or a paper task named compositional_A_B (A, B: upper, lower,
reverse, plural, gerund, first, last, translate_X_Y). For each model and each composite whose
components all have curves, the product, min and mean of the component curves are scored on the
composite's own curve, unsmoothed, over the checkpoints with tokens > 0 where the composite and
every component were evaluated (at least 3, analysis.predict.MIN_POINTS).

r2 is 1 - SS_res/SS_tot (negative: worse than the composite's mean; undefined for a constant
curve); r2_pearson is the squared Pearson correlation (what the paper's code calls R²; blind to
scale and offset). A nearly flat composite has a tiny SS_tot, so one such composite can carry
the mean r2: the median is printed beside it.

examples:
  curriculens predict trajectories_pythia-6.9b_amber.csv
  curriculens predict runs/demo --json
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``predict`` on an argparse subparsers object; returns the new parser."""
    p = subparsers.add_parser(
        "predict",
        help=_HELP,
        description=_HELP,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="store / run dir, lm-eval dir, or tidy CSV")
    add_import_flags(p, tokens_help="tokens per step, to read 'stepN' checkpoint names")
    add_selection_flags(p.add_argument_group("stores only (run directory or .sqlite)"))
    add_json_flag(
        p,
        help='print {"composites": [{model, name, components, n, r2, r2_pearson}], "mean_r2", '
        '"mean_r2_pearson", "median_r2", ..., "by_model", "skipped"}',
    )
    params.add(
        p,
        "fv_method",
        default="projection",
        help="task-vector method: projection (least squares at every checkpoint, calibrated) or "
        "paper (one checkpoint's paper-mode vectors, cosine weights; see docs/predict.md)",
    )
    params.add(
        p,
        "fv_heads",
        default="all",
        help="paper method: vectors summed over all last-layer heads (the paper's code) or the "
        "top-k heads (its README)",
    )
    params.add(
        p,
        "scoring",
        default="raw",
        help="raw: unsmoothed, shared checkpoints; paper: union grid, sigma-1 smoothing, squared "
        "Pearson r, constant composites 0 (docs/predict.md)",
    )
    p.set_defaults(func=run_predict)
    return p


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``curriculens predict``: prints the result; returns the exit code."""
    from curriculens.analysis.fv import predict_trajectories
    from curriculens.analysis.predict import composite_components
    from curriculens.analysis.table import read_vectors, selecting

    store = is_store(args.input)
    selection = input_selection(args)
    if store and args.fv_method == "paper":  # one checkpoint's vectors, computed once per run
        from curriculens.paper_vectors import ensure_paper_vectors

        for got in ensure_paper_vectors(args.input, heads=args.fv_heads):
            print(
                f"paper-mode vectors of {got['run']} computed at {got['checkpoint']} and stored "
                f"in the run ({len(got['skills'])} skills; {got['notes'] or 'no shortfall'})",
                file=sys.stderr,
            )
    try:
        with selecting(selection):
            curves = load_input_curves(args)
            vectors = read_vectors(args.input) if store else []
    except (OSError, ValueError) as e:  # unreadable or malformed input files
        raise ConfigError(str(e)) from e
    tasks = sorted(curves["task"].astype(str).unique())
    components = composite_components(tasks, str(Path(args.input)) if store else None)
    prediction = predict_trajectories(
        curves,
        components,
        vectors,
        method=args.fv_method,
        scoring=args.scoring,
        heads=args.fv_heads,
    )
    if not prediction.composites:
        why = "; ".join(f"{m} {c}: {r}" for m, c, r in prediction.skipped[:3])
        raise ConfigError(
            f"{args.input!r} has no composite that can be scored: "
            + (
                f"{len(prediction.skipped)} skipped ({why})"
                if prediction.skipped
                else f"none of its {len(tasks)} tasks is a composite (declared components, "
                "or a paper name compositional_A_B) with a curve"
            )
            + "."
        )
    if args.json:
        print(json.dumps(prediction.to_json()))
    else:
        print(render(prediction))
    return 0


def render(prediction) -> str:
    """The text table: per model, each composite's r2 and r2_pearson per method, and means."""
    methods = prediction.methods
    lines = [
        f"Scoring: {prediction.scoring}. "
        + (
            "Composite curves predicted from their components' curves (unsmoothed; checkpoints "
            "with tokens > 0 where the composite and all components were evaluated)."
            if prediction.scoring == "raw"
            else "Curves interpolated onto the union of their grids and smoothed (sigma 1); "
            "r2_pearson is the paper's R² (constant composite: 0)."
        ),
        "r2 = 1 - SS_res/SS_tot ('-': constant composite); r2_pearson = squared Pearson r "
        "('-': a constant curve).",
    ]
    for model in prediction.models:
        rows = [c for c in prediction.composites if c.model == model]
        width = max(len("median of 999 with r2"), *(len(c.name) for c in rows))
        head = "  ".join(f"{m:>{_w(m)}}" for m in methods)
        lines += [
            "",
            f"{model}",
            f"  {'composite'.ljust(width)}  {'n':>3}  r2: {head}  r2_pearson: {head}",
        ]
        for c in rows:
            r2 = "  ".join(_cell(c.r2.get(m), m) for m in methods)
            rp = "  ".join(_cell(c.r2_pearson.get(m), m) for m in methods)
            lines.append(f"  {c.name.ljust(width)}  {len(c.tokens):>3}  r2: {r2}  r2_pearson: {rp}")
        n = prediction.count("r2", model)
        for how in ("mean", "median"):
            r2 = "  ".join(_cell(v, m) for m, v in prediction.mean("r2", model, how=how).items())
            rp = "  ".join(
                _cell(v, m) for m, v in prediction.mean("r2_pearson", model, how=how).items()
            )
            label = f"{how} of {min(n.values())} with r2"
            lines.append(f"  {label.ljust(width)}  {'':>3}  r2: {r2}  r2_pearson: {rp}")
    decoys = prediction.decoy_summary("r2_pearson")
    if decoys:
        lines += [
            "",
            "Decoy null (r2_pearson): declared components strictly first / composites ranked; "
            "mean declared vs mean of decoy means (mean decoy 95th percentile)",
        ]
        lines += [
            f"  {m:<20} {d['first']:>3}/{d['n']:<3} {_cell(d['declared_mean'])} vs "
            f"{_cell(d['decoy_mean'])} ({d['decoy_p95']:.3f})"
            for m, d in decoys.items()
        ]
    if prediction.skipped:
        lines += ["", "Not scored:"]
        lines += [f"  {m} {c}: {r}" for m, c, r in prediction.skipped]
    return "\n".join(lines)


def _w(method: str) -> int:
    return max(9, len(method))


def _cell(v: float | None, method: str = "") -> str:
    w = _w(method)
    return f"{'-':>{w}}" if v is None else f"{v:>{w}.3f}"
