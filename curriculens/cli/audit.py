"""``curriculens audit RUN``: can each skill's probe pass by memorising its training set?"""

from __future__ import annotations

import argparse
import json

from curriculens.cli._args import add_output_flags


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``curriculens audit`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "audit",
        help="check every probe's split for leaks (overlap, prompt-identity adversary, control)",
        description=(
            "Audit the probe items stored in RUN, per skill: the train/test overlap of prompts "
            "and of groups, the held-out accuracy of a prompt-identity adversary (one random "
            "vector per distinct prompt, fitted with the sweep's own engine on the stored "
            "split), the stored control-task accuracy, and a verdict: ok or leaky. Exit code 1 "
            "when any skill is leaky."
        ),
    )
    p.add_argument("run", help="run directory holding results.sqlite")
    p.add_argument("--skills", help="comma-separated skills to audit (default: all in the run)")
    add_output_flags(p, json_help="print {skill: {...verdict, reason}} as JSON")
    p.set_defaults(func=run)
    return p


def format_audit(results) -> str:
    """The audit as an aligned text table, one skill a line, then each leaky skill's reason."""
    head = f"{'skill':<24} {'n train/test':>12} {'overlap':>8} {'adversary':>9} {'chance':>6} "
    head += f"{'control':>7}  verdict"
    lines = [head]
    for r in results.values():
        ctrl = "-" if r.control_acc is None else f"{r.control_acc:.2f}"
        overlap = max(r.prompt_overlap, r.group_overlap)
        lines.append(
            f"{r.skill:<24} {f'{r.n_train}/{r.n_test}':>12} {overlap:>8.0%} "
            f"{r.adversary_acc:>9.2f} {r.chance:>6.2f} {ctrl:>7}  {r.verdict}"
        )
    lines += [f"{r.skill}: leaky: {r.reason}" for r in results.values() if r.verdict != "ok"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Audit a run; exit 0 when every skill is ok, 1 when any is leaky."""
    from curriculens.analysis.audit import audit_run

    skills = [s for s in args.skills.split(",") if s] if args.skills else None
    results = audit_run(args.run, skills=skills)
    if args.json:
        print(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=2))
    elif not args.quiet:
        print(format_audit(results))
    return 0 if all(r.verdict == "ok" for r in results.values()) else 1
