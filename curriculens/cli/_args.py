"""Argument types and flags shared by every command, so each concept has one name and one parser."""

from __future__ import annotations

import argparse

from curriculens import params


def add_json_flag(p, *, help: str = "print JSON") -> None:
    """``--json``: machine-readable results on stdout (its help says what is printed)."""
    p.add_argument("--json", action="store_true", help=help)


def add_output_flags(p: argparse.ArgumentParser, *, json_help: str = "print JSON") -> None:
    """``--quiet`` (no progress bars or chatter) and ``--json`` (machine-readable results)."""
    p.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    add_json_flag(p, help=json_help)


def add_out_flag(p, *, help: str, default: str | None = None) -> None:
    """``-o/--out``: where every command writes (a folder or a file)."""
    params.add(p, "out", "-o", default=default, metavar="PATH", help=help)


def add_seed_flag(p, *, default: int = 0) -> None:
    """``--seed``: the random seed of everything the command draws."""
    params.add(
        p, "seed", default=default, help=f"random seed of everything drawn (default {default})"
    )


def add_bootstrap_flag(p, *, help: str, default: int | None = 1000) -> None:
    """``--bootstrap N``: resamples (an int >= 0) behind intervals and tests."""
    params.add(p, "n_boot", default=default, metavar="N", help=help)


def add_selection_flags(p: argparse.ArgumentParser, *, all_rows: bool = True) -> None:
    """``--config KEY`` (read that configuration of the run) and, where nothing pools rows
    across runs, ``--all`` (every row; configurations and skill versions kept apart)."""
    p.add_argument(
        "--config",
        metavar="KEY",
        help="read this configuration of the run (a key or its prefix) instead of the current one",
    )
    if all_rows:
        p.add_argument(
            "--all",
            action="store_true",
            help="read every row: each configuration and skill version on its own, never averaged",
        )


def selection_of(args: argparse.Namespace):
    """The :class:`~curriculens.analysis.table.Selection` the flags ask for."""
    from curriculens.analysis.table import Selection

    every = bool(getattr(args, "all", False))
    if every and args.config is not None:
        from curriculens.errors import ConfigError

        raise ConfigError("--config and --all exclude each other; give one of them.")
    return Selection(config=args.config, all=every)


def _threshold(text: str) -> float | None:
    """``--threshold 0.8`` or ``--threshold none`` (no floor, where the method allows it)."""
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number or 'none' (e.g. --threshold 0.8)"
        ) from None


def _smooth(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. --smooth 1)") from None
    return v or None


def add_criterion_flags(p: argparse.ArgumentParser, *, leadlag: bool | str = False) -> None:
    """``--criterion NAME`` and the fields that override the preset, in one group.

    Every override defaults to "not given", so the preset's value stands unless a flag says
    otherwise; a flag that the chosen method does not read is an error, never ignored. With
    ``leadlag``, also ``--leadlag-criterion`` (``leadlag=argparse.SUPPRESS``: absent unless
    given, for commands where lead/lag is optional).
    """
    from curriculens.params import CRITERIA, METHODS, RELATIVE_TO

    g = p.add_argument_group(
        "emergence criterion",
        "A preset, optionally with fields changed.\n"
        "  paper: first checkpoint with smoothed score >= 0.8 (sigma 1 checkpoint, reflected\n"
        "    edges, 0-token checkpoints dropped)\n"
        "  paper-relative: >= 0.5 x the smoothed maximum, no floor, curves never above 0\n"
        "    dropped",
    )
    unset = argparse.SUPPRESS
    params.add(g, "criterion", default=CRITERIA[0], help="emergence criterion (default: paper)")
    g.add_argument("--method", choices=METHODS, default=unset, help="replace the preset's method")
    g.add_argument(
        "--threshold",
        type=_threshold,
        default=unset,
        metavar="X|none",
        help="score level; 'none' drops the floor (relative, sigmoid)",
    )
    g.add_argument(
        "--fraction", type=float, default=unset, help="share of the reference (relative)"
    )
    g.add_argument("--relative-to", choices=RELATIVE_TO, default=unset, dest="relative_to")
    g.add_argument(
        "--smooth", type=_smooth, default=unset, help="Gaussian sigma in checkpoints, 0 = none"
    )
    g.add_argument("--chance", type=float, default=unset, help="normalize scores above chance")
    g.add_argument("--window", type=int, default=unset, help="checkpoints in a row (stable)")
    params.add(g, "min_rise", default=unset, metavar="X")
    g.add_argument(
        "--keep-zero-tokens",
        action="store_const",
        const=False,
        dest="drop_zero_tokens",
        default=unset,
        help="keep checkpoints with 0 tokens (the presets drop them, as the paper does)",
    )
    if leadlag:
        params.add(
            g,
            "leadlag_criterion",
            default=leadlag if isinstance(leadlag, str) else "paper-relative",
            help="criterion of lead/lag, for both of its curves (default: paper-relative)",
        )


_CRITERION_FIELDS = (
    "method",
    "threshold",
    "fraction",
    "relative_to",
    "smooth",
    "chance",
    "window",
    "drop_zero_tokens",
)


def _reads_rise(preset: str, method: str | None = None) -> bool:
    """Whether a criterion (a preset, perhaps with its method replaced) reads ``min_rise``."""
    from curriculens.analysis.criterion import PRESETS

    return (method or PRESETS.get(preset, {}).get("method", "fixed")) in ("relative", "sigmoid")


def criterion_from_args(args: argparse.Namespace, *, rise_elsewhere: bool = False):
    """The :class:`~curriculens.analysis.criterion.Criterion` the flags of
    :func:`add_criterion_flags` describe.

    ``--min-rise`` changes every criterion of the command that reads a rise: this one when its
    method does (relative, sigmoid). With ``rise_elsewhere`` (lead/lag's criterion reads it) a
    criterion that does not read it is left as it is; otherwise the flag is an error that says
    which methods read it.
    """
    from curriculens.analysis.criterion import Criterion

    overrides = {k: getattr(args, k) for k in _CRITERION_FIELDS if hasattr(args, k)}
    if hasattr(args, "min_rise") and (
        _reads_rise(args.criterion, overrides.get("method")) or not rise_elsewhere
    ):
        overrides["min_rise"] = args.min_rise
    return Criterion.preset(args.criterion, **overrides)


def leadlag_criterion_from_args(args: argparse.Namespace, *, default: str = "paper-relative"):
    """Lead/lag's criterion: the preset of ``--leadlag-criterion`` (or ``default``), with
    ``--min-rise`` when the preset reads a rise (see :func:`criterion_from_args`)."""
    from curriculens.analysis.criterion import Criterion

    name = getattr(args, "leadlag_criterion", None) or default
    if hasattr(args, "min_rise") and _reads_rise(name):
        return Criterion.preset(name, min_rise=args.min_rise)
    return Criterion.preset(name)


def leadlag_reads_rise(args: argparse.Namespace, *, default: str = "paper-relative") -> bool:
    """Whether lead/lag's criterion (``--leadlag-criterion`` or ``default``) reads
    ``--min-rise``."""
    return _reads_rise(getattr(args, "leadlag_criterion", None) or default)


def is_store(path: str) -> bool:
    """Whether INPUT is a curriculens store (a ``.sqlite`` file or a run directory)."""
    from pathlib import Path

    p = Path(path)
    return p.suffix in (".sqlite", ".db") or (p.is_dir() and (p / "results.sqlite").exists())


def parse_columns(items) -> dict[str, str] | None:
    """``--columns acc_em=score,run_name=model`` (repeatable) -> ``{csv column: name}``."""
    from curriculens.errors import ConfigError

    if not items:
        return None
    out = {}
    for item in (part.strip() for group in items for part in group.split(",")):
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise ConfigError(
                f"--columns {item!r} is not CSV=NAME; write e.g. --columns acc_em=score."
            )
        out[src] = dst
    return out


def add_import_flags(p: argparse.ArgumentParser, *, tokens_help: str) -> argparse._ArgumentGroup:
    """The ``input`` group of commands that read curves from files as well as from runs:
    ``--metric``, ``--pattern``, ``--tokens-per-step``, ``--columns``, ``--keep-names``,
    ``--duplicates`` and ``--revision-tokens`` (see :func:`import_options`)."""
    i = p.add_argument_group("input")
    i.add_argument("--metric", default=None, help="lm-eval / store metric (lm-eval: acc)")
    i.add_argument("--pattern", default=None, help="lm-eval: regex capturing the step")
    params.add(i, "tokens_per_step", default=None, help=tokens_help)
    i.add_argument(
        "--columns",
        action="append",
        default=None,
        metavar="CSV=NAME[,CSV=NAME]",
        help="CSV: map columns, e.g. --columns acc_em=score,run_name=model (repeatable)",
    )
    i.add_argument(
        "--keep-names",
        action="store_true",
        help="keep task names as given (default: ':' -> '_', as the paper does)",
    )
    params.add(i, "duplicates", default=None)
    i.add_argument(
        "--revision-tokens",
        action="append",
        default=None,
        metavar="REV=TOKENS",
        dest="revision_tokens",
        help="token count of a revision whose name has none, e.g. main=4051e9 (MODEL@REV=... "
        "for one model; repeatable)",
    )
    return i


def input_selection(args: argparse.Namespace):
    """The :class:`~curriculens.analysis.table.Selection` of ``--config``/``--all``; an error
    when they are given for an input that is not a curriculens store."""
    from curriculens.errors import ConfigError

    selection = selection_of(args)
    if (selection.config is not None or selection.all) and not is_store(args.input):
        raise ConfigError(
            f"--config and --all choose rows of a curriculens store; {args.input!r} is not a "
            "run directory or .sqlite file. Drop them for lm-eval directories and CSVs."
        )
    return selection


def read_options(args: argparse.Namespace) -> dict:
    """The options of :func:`~curriculens.analysis.importers.load_curves` that the flags of
    :func:`add_import_flags` give (file-only ones are checked by the library)."""
    from curriculens.analysis.long_format import parse_revision_tokens

    return dict(
        metric=args.metric,
        pattern=args.pattern,
        tokens_per_step=args.tokens_per_step,
        columns=parse_columns(args.columns),
        keep_names=args.keep_names,
        duplicates=args.duplicates,
        revision_tokens=parse_revision_tokens(args.revision_tokens),
    )


def load_input_curves(args: argparse.Namespace):
    """The long-format curves of ``args.input`` read with the flags of
    :func:`add_import_flags` (file-only flags are an error for a curriculens store)."""
    from curriculens.analysis.importers import load_curves
    from curriculens.errors import ConfigError

    options = read_options(args)
    if is_store(args.input):
        file_only = ("keep_names", "duplicates", "revision_tokens")
        if any(options[k] for k in file_only):
            raise ConfigError(
                "--keep-names, --duplicates and --revision-tokens apply to imported files (CSV, "
                f"lm-eval); {args.input!r} is a curriculens run."
            )
        options = {k: v for k, v in options.items() if k not in file_only}
    return load_curves(args.input, **options)
