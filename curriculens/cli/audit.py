"""``curriculens audit RUN``: can each skill's probe pass by memorising its training set?"""

from __future__ import annotations

import argparse
import json

from curriculens.cli._args import add_output_flags


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``curriculens audit`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "audit",
        help="check every probe's split for leaks (overlap, control) and lexical shortcuts",
        description=(
            "Audit the probe items stored in RUN, per skill: the train/test overlap of prompts "
            "and of groups, the test set's chance, the stored control-task accuracy (mean and "
            "SD over the control draws), whether a probe on the prompt's mean input embeddings "
            "keeps up with the probe (lexical), and a verdict: ok, leaky or lexical. Exit code "
            "1 when any skill is leaky (a lexical probe is reported, not failed)."
        ),
    )
    p.add_argument("run", help="run directory holding results.sqlite")
    p.add_argument("--skills", help="comma-separated skills to audit (default: all in the run)")
    add_output_flags(p, json_help="print {skill: {...verdict, reason}} as JSON")
    p.set_defaults(func=run)
    return p


def format_audit(results) -> str:
    """The audit as an aligned text table, one skill a line, then each leaky skill's reason."""
    head = f"{'skill':<24} {'n train/test':>12} {'overlap':>8} {'chance':>6} "
    head += f"{'control (SD)':>12} {'lexical':>7}  verdict"
    lines = [head]
    for r in results.values():
        ctrl = "-" if r.control_acc is None else f"{r.control_acc:.2f}"
        if r.control_acc is not None and r.control_sd is not None:
            ctrl += f" ({r.control_sd:.2f})"
        lex = "-" if r.lexical is None else "yes" if r.lexical else "no"
        overlap = max(r.prompt_overlap, r.group_overlap)
        lines.append(
            f"{r.skill:<24} {f'{r.n_train}/{r.n_test}':>12} {overlap:>8.0%} "
            f"{r.chance:>6.2f} {ctrl:>12} {lex:>7}  {r.verdict}"
        )
    lines += [f"{r.skill}: {r.verdict}: {r.reason}" for r in results.values() if r.verdict != "ok"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Audit a run; exit 1 when any skill is leaky, else 0 (lexical probes are reported)."""
    from curriculens.analysis.audit import audit_run

    skills = [s for s in args.skills.split(",") if s] if args.skills else None
    results = audit_run(args.run, skills=skills)
    if args.json:
        print(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=2))
    elif not args.quiet:
        print(format_audit(results))
    return 1 if any(r.verdict == "leaky" for r in results.values()) else 0
