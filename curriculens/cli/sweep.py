"""``curriculens sweep``: measure every checkpoint of a series into a run directory.

``curriculens sweep runs/demo/checkpoints`` re-sweeps (or resumes) a demo with one command;
``--model REPO --steps 0,512`` sweeps hub revisions; a TOML file holds the same settings.
``--steps/--every/--max-checkpoints`` choose checkpoints of either kind of series,
``--skills`` takes skills, suites and skill files, ``--layers/--hooks`` the activations probed.
A flag that would be ignored for the given input is an error. The parser is added to the main
CLI with :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from curriculens import params
from curriculens.cli._args import add_out_flag, add_output_flags
from curriculens.errors import ConfigError, SkillError

if TYPE_CHECKING:
    from curriculens.checkpoints import CheckpointSeries
    from curriculens.pipeline.config import SweepConfig

_SERIES_KEYS = (
    "dir",
    "model",
    "revisions",
    "steps",
    "every",
    "max_checkpoints",
    "tokens_per_step",
    "dedupe",
    "skip_bad",
    "trust_remote_code",
)
#: Series settings that only a hub series (--model) uses, and only a directory uses.
_HUB_ONLY = {"revisions": "--revisions"}
_DIR_ONLY = {"skip_bad": "--skip-bad"}
#: top-level keys of a sweep TOML file
_TOP_KEYS = ("out", "executor", "run")


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _layers(text: str) -> tuple[int, ...]:
    from curriculens.pipeline.config import parse_layers

    try:
        return parse_layers(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# ---------------------------------------------------------------------------------- sweep
def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``curriculens sweep`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "sweep",
        help="measure skills and probes across a checkpoint series (resumable)",
        description=(
            "Sweep a checkpoint series into a run directory. SOURCE is a checkpoint directory "
            "(save_pretrained folders, or state-dict files beside config.json) or a TOML file "
            "with [series] and [sweep] tables; or name a hub model with --model. Re-running "
            "resumes: finished units are skipped."
        ),
    )
    p.add_argument("source", nargs="?", help="checkpoint directory or CONFIG.toml")
    add_out_flag(p, help="run directory (default: the parent of a directory named 'checkpoints')")
    params.add(p, "model", metavar="REPO")
    p.add_argument(
        "--revisions",
        type=_csv_list,
        help="comma-separated hub revisions (with --model), e.g. step0,step512 or "
        "stage1-step1000-tokens5B; 'main' is the final step where the schedule is known (Pythia)",
    )
    params.add(
        p,
        "steps",
        type=params.csv_of("steps"),
        metavar="STEP,...",
        help="comma-separated checkpoint steps to sweep, of a directory or a hub model (Pythia "
        "step{N})",
    )
    params.add(p, "every")
    params.add(p, "max_checkpoints")
    params.add(p, "tokens_per_step")
    params.add(
        p,
        "skills",
        type=_csv_list,
        metavar="SKILL,...",
        help="comma-separated skill names, suites (toy, core-en) and skill files (.jsonl), "
        "mixed (default: toy for the toy tokenizer, core-en for any other)",
    )
    p.add_argument(
        "--layers",
        type=_layers,
        help="probe these blocks' residual outputs: indices and ranges, e.g. 0,6,12 or 0-11 "
        "(default: the embedding and every block)",
    )
    p.add_argument(
        "--hooks",
        type=_csv_list,
        help="probe these TransformerLens hooks, e.g. hook_embed,blocks.3.hook_resid_mid "
        "(added to --layers)",
    )
    params.add(p, "dtype")
    params.add(p, "n_examples", help="examples per skill (default 300)")
    params.add(
        p,
        "mdl",
        action="store_true",
        default=None,
        help="also measure each probe's online description length (compression over uniform)",
    )
    params.add(
        p,
        "task_vectors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compute each few-shot skill's task vector at every hook, for `curriculens "
        "predict` (default: on; a resume keeps the run's setting). Costs one extra forward "
        "pass over at most 100 shuffled-demonstration prompts per few-shot skill",
    )
    params.add(
        p,
        "task_vector_heads",
        metavar="K",
        help="also compute the head variant of the task vectors: the summed output of the K "
        "attention heads with the largest causal effect (one patched forward per head; default "
        "0, off)",
    )
    params.add(p, "device")
    params.add(  # one --threads across commands (training's too); stored as SweepConfig.threads
        p,
        "train_threads",
        help="torch threads of the forwards and probe fits (default 0: the free physical "
        "cores, chosen when the sweep starts; printed by --dry-run and stored with the run)",
    )
    params.add(p, "executor")
    params.add(p, "cache_dir")
    params.add(p, "max_batch_tokens")
    p.add_argument("--no-dedupe", action="store_true", help="measure duplicate weights again")
    params.add(
        p,
        "skip_bad",
        action="store_true",
        help="skip (and list) checkpoints that cannot be loaded instead of stopping",
    )
    params.add(
        p,
        "trust_remote_code",
        action="store_true",
        help="let checkpoints whose config or tokenizer names their own Python code (auto_map) "
        "run it; only for checkpoints from a source you trust (default: refused, never asked)",
    )
    p.add_argument("--run", help="run name stored in every row (default: name of --out)")
    p.add_argument("--dry-run", action="store_true", help="list the work and exit")
    add_output_flags(p, json_help="print the finished sweep (or the --dry-run plan) as JSON")
    p.set_defaults(func=cmd_sweep)
    return p


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"Cannot read sweep config {str(path)!r}: {e}") from e
    bad = sorted(set(data) - {"series", "sweep", *_TOP_KEYS})
    if bad:
        raise ConfigError(
            f"Sweep config {str(path)!r} has unknown table(s)/key(s) {bad}; expected [series], "
            "[sweep], out, executor, run."
        )
    unknown = sorted(set(data.get("series", {})) - set(_SERIES_KEYS))
    if unknown:
        raise ConfigError(
            f"[series] in {str(path)!r} has unknown key(s) {unknown}; expected some of "
            f"{list(_SERIES_KEYS)}."
        )
    for table in ("series", "sweep"):  # every value checked before anything is loaded
        params.check_all(data.get(table, {}), via="toml", prefix=f"[{table}] ")
    params.check_all({k: data[k] for k in _TOP_KEYS if k in data}, via="toml")
    return data


def _plan(args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """Merge a TOML file (if any) with flags: ``(series, sweep, top-level)`` settings."""
    series, sweep_cfg, top = {}, {}, {}
    if args.source and Path(args.source).suffix == ".toml":
        data = _read_toml(Path(args.source))
        series = dict(data.get("series", {}))
        sweep_cfg = dict(data.get("sweep", {}))
        top = {k: data[k] for k in _TOP_KEYS if k in data}
        base = Path(args.source).parent
        if "dir" in series:
            series["dir"] = str(base / series["dir"])
        if "out" in top:
            top["out"] = str(base / top["out"])
    elif args.source:
        series["dir"] = args.source
    for flag, key in (
        ("model", "model"),
        ("revisions", "revisions"),
        ("steps", "steps"),
        ("every", "every"),
        ("max_checkpoints", "max_checkpoints"),
        ("tokens_per_step", "tokens_per_step"),
    ):
        if getattr(args, flag) is not None:
            series[key] = getattr(args, flag)
    if args.no_dedupe:
        series["dedupe"] = False
    if args.skip_bad:
        series["skip_bad"] = True
    if args.trust_remote_code:
        series["trust_remote_code"] = True
    for flag, key in (
        ("skills", "skills"),
        ("n_examples", "n_examples"),
        ("device", "device"),
        ("cache_dir", "cache_dir"),
        ("max_batch_tokens", "max_batch_tokens"),
        ("mdl", "mdl"),
        ("task_vectors", "task_vectors"),
        ("task_vector_heads", "task_vector_heads"),
        ("dtype", "dtype"),
        ("train_threads", "threads"),
    ):
        if getattr(args, flag) is not None:
            sweep_cfg[key] = getattr(args, flag)
    if args.layers is not None or args.hooks is not None:
        sweep_cfg["hooks"] = list(args.hooks or [])
        if args.layers is not None:
            sweep_cfg["layers"] = list(args.layers)
    for key in _TOP_KEYS:
        if getattr(args, key) is not None:
            top[key] = getattr(args, key)
    if "dir" in series and "model" in series:
        raise ConfigError(
            f"Both a checkpoint directory ({series['dir']!r}) and --model ({series['model']!r}) "
            "were given; sweep one series at a time."
        )
    if "dir" not in series and "model" not in series:
        raise ConfigError(
            "No checkpoints to sweep: give a checkpoint directory, a CONFIG.toml, or --model "
            "REPO with --revisions/--steps."
        )
    _check_applies(series)
    if "out" not in top:
        d = Path(series.get("dir", ""))
        if "dir" in series and d.name == "checkpoints":
            top["out"] = str(d.parent)
        else:
            raise ConfigError(
                "--out is required (a run directory for results.sqlite), except for a directory "
                "named 'checkpoints', whose parent is the default."
            )
    return series, sweep_cfg, top


def _check_applies(series: dict) -> None:
    """A setting the given series would ignore is an error, never silence."""
    if "dir" in series:
        used = [flag for key, flag in _HUB_ONLY.items() if key in series]
        if used:
            raise ConfigError(
                f"{', '.join(used)} applies to a hub model (--model REPO); a checkpoint "
                f"directory ({series['dir']!r}) has no revisions. Choose its checkpoints with "
                "--steps, --every or --max-checkpoints."
            )
    else:
        used = [flag for key, flag in _DIR_ONLY.items() if series.get(key)]
        if used:
            raise ConfigError(
                f"{', '.join(used)} applies to a checkpoint directory; hub revisions are loaded "
                "one at a time during the sweep, and one that fails to load stops it."
            )
        if "revisions" in series and "steps" in series:
            raise ConfigError(
                "--revisions and --steps both name hub revisions; give one of them (--steps "
                "0,512 means --revisions step0,step512)."
            )


def _build_series(series: dict) -> CheckpointSeries:
    from curriculens.checkpoints import CheckpointSeries

    dedupe = bool(series.get("dedupe", True))
    pick = {k: series.get(k) for k in ("every", "max_checkpoints")}
    if "dir" in series:
        return CheckpointSeries.from_dir(
            series["dir"],
            tokens_per_step=series.get("tokens_per_step"),
            dedupe=dedupe,
            skip_bad=bool(series.get("skip_bad", False)),
            steps=series.get("steps"),
            trust_remote_code=bool(series.get("trust_remote_code", False)),
            **pick,
        )
    hub = CheckpointSeries.from_hub(
        series["model"],
        revisions=series.get("revisions"),
        steps=series.get("steps"),
        tokens_per_step=series.get("tokens_per_step"),
        dedupe=dedupe,
        trust_remote_code=bool(series.get("trust_remote_code", False)),
    )
    return hub.select(**pick)


def _build_config(sweep_cfg: dict, out: Path, series: CheckpointSeries) -> SweepConfig:
    """Flags/TOML win; otherwise a run's saved config is reused so a resume needs no flags.

    Without either, the skills are the toy suite for the toy tokenizer and ``core-en`` for any
    other (the first checkpoint's tokenizer decides; a hub model is never the toy one).
    """
    from curriculens.pipeline.config import SweepConfig, default_skills
    from curriculens.pipeline.plan import series_tokenizer

    saved = out / "sweep_config.json"
    if saved.exists():
        try:
            base = json.loads(saved.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(
                f"Cannot read the saved sweep config {str(saved)!r} ({e}); fix or delete it and "
                "give the settings as flags."
            ) from None
        if not isinstance(base, dict):
            raise ConfigError(
                f"The saved sweep config {str(saved)!r} is not a JSON object; fix or delete it."
            )
        try:
            return SweepConfig.from_dict({**base, **sweep_cfg})
        except SkillError as e:
            raise ConfigError(
                f"The saved sweep config {str(saved)!r} names a skill that is not registered "
                f"in this process ({e}). Pass --skills again, with the paths of any skill "
                "files, to resume."
            ) from None
    if "skills" not in sweep_cfg:
        sweep_cfg = {"skills": list(default_skills(series_tokenizer(series))), **sweep_cfg}
    return SweepConfig.from_dict(sweep_cfg)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run (or plan, with ``--dry-run``) a sweep; returns the exit code."""
    from curriculens.checkpoints import BadCheckpointWarning, check_device, check_hub_access
    from curriculens.pipeline.config import resolve_skills
    from curriculens.pipeline.plan import dry_run_text
    from curriculens.pipeline.run import sweep
    from curriculens.store import Store

    series_cfg, sweep_cfg, top = _plan(args)
    out = Path(top["out"])
    executor = top.get("executor", "local")
    if executor == "local" and not args.dry_run:
        check_device(sweep_cfg.get("device", "cpu"))  # before any checkpoint is loaded
    if not args.dry_run and (out / "results.sqlite").exists():
        Store(out).close()  # a locked, corrupt or newer store fails here, before any loading
    elif not args.dry_run:
        _check_not_foreign(out, args.source)
    if "skills" in sweep_cfg:  # an unknown skill or a bad skill file fails before any loading
        resolve_skills(sweep_cfg["skills"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadCheckpointWarning)  # listed below, one per line
        series = _build_series(series_cfg)
    if "model" in series_cfg:  # offline or unreachable: fail now, with the fix
        check_hub_access(series[0].repo, series[0].revision)
    config = _build_config(sweep_cfg, out, series)
    for d in series.meta.get("skipped", []):
        print(f"curriculens sweep: skipped {d['label']}: {d['reason']}", file=sys.stderr)
    if args.dry_run:
        text = dry_run_text(series, config, out, run=top.get("run"), executor=executor)
        print(json.dumps({"dry_run": True, "plan": text}) if args.json else text)
        return 0
    sweep(
        series,
        out,
        config=config,
        run=top.get("run"),
        progress=not args.quiet,
        executor=executor,
    )
    if not _is_source(args.source, out / "sweep.toml"):  # the user's own file stays theirs
        _save_invocation(out, series_cfg, config, top)
    with Store(out, readonly=True) as s:
        n = s.count()
    store = out / "results.sqlite"
    skipped = series.meta.get("skipped", [])
    if args.json:
        print(
            json.dumps(
                {"checkpoints": len(series), "rows": n, "store": str(store), "skipped": skipped}
            )
        )
    else:
        print(f"sweep finished: {len(series)} checkpoints, {n} rows in {store}")
        if skipped:
            print(f"skipped (--skip-bad): {', '.join(d['label'] for d in skipped)}")
    return 0


def _is_source(source: str | None, path: Path) -> bool:
    return source is not None and path.exists() and Path(source).resolve() == path.resolve()


def _check_not_foreign(out: Path, source: str | None) -> None:
    """A folder without a store that holds a run's files was not made by a sweep: its
    ``sweep_config.json`` or ``sweep.toml`` (unless it is the TOML being run, which is kept)
    is someone else's, and a sweep would write over it."""
    for name in ("sweep_config.json", "sweep.toml"):
        if (out / name).exists() and not _is_source(source, out / name):
            raise ConfigError(
                f"{params.flag('out')} {str(out)!r} holds {name} but no results.sqlite: it is "
                "not a run a sweep made, and the sweep would write over that file. Give a new "
                "folder, or move the file away."
            )


def _save_invocation(out: Path, series_cfg: dict, config: SweepConfig, top: dict) -> None:
    import tomli_w

    doc = {
        **{k: v for k, v in top.items() if k != "out"},
        "series": series_cfg,
        "sweep": config.to_dict(),
    }
    from curriculens.atomic import write_text

    write_text(out / "sweep.toml", tomli_w.dumps(doc))  # whole, never half a file


add_sweep_parser = add_parser  # the name earlier versions exported
