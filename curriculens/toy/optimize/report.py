"""The verify report: a Markdown summary and a plot of baseline vs proposed curves."""

from __future__ import annotations

from pathlib import Path

from curriculens.reporting.formatting import format_tokens


def _tok(t: float) -> str:
    return format_tokens(t)


def _signed_tok(t: float) -> str:
    return ("+" if t > 0 else "-" if t < 0 else "±") + _tok(abs(t))


def verify_markdown(cmp: dict) -> str:
    """The Markdown report of a :func:`curriculens.toy.optimize.verify.compare` result."""
    p = cmp["proposal"]
    cfg = cmp["config"]
    n = len(cmp["seeds"])
    lines = [
        f"# Optimize verify: strategy `{p['strategy']}`",
        "",
        f"**{cmp['headline']}**",
        "",
        "## Setup",
        "",
        f"- {n} seeds x 2 mixes, each {cfg['steps']} steps = {cmp['tokens_per_run']:,} tokens "
        "(same token budget and seeds for both mixes).",
        f"- Evaluation at steps {cfg['eval_steps']} on {cfg['n_examples']} examples per skill.",
        f"- Emergence (the map's criterion {cmp['criterion']['name']}): "
        f"{cmp['criterion']['description']}; a run that never gets there counts as the last "
        "evaluation (a lower bound).",
        f"- CIs: {cmp['ci']} ({cmp['n_boot']} resamples). With {n} seed(s) the seed level of "
        "the interval is coarse.",
        f"- Baseline mixture: {p['baseline_source']}. Wall time of this invocation "
        f"{cmp['seconds']:.0f} s ({cmp.get('reused', 0)} of {2 * n} runs reused from an earlier "
        f"one); seconds per run as trained: {', '.join(f'{t:.0f}' for t in cmp['train_seconds'])}.",
        "",
        "## Per skill",
        "",
        "Shift = proposed - baseline emergence tokens (negative: earlier). `*` = targeted.",
        "",
        "| skill | share base -> prop | emerge base | emerge prop | shift [95% CI] | verdict "
        "| final base -> prop | change [95% CI] | source loss change |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_src = cmp["loss"]["by_source"]
    for s, r in cmp["skills"].items():
        share = (
            f"{p['baseline'].get(s, 0):.3f} -> {p['proposed'].get(s, 0):.3f}"
            if s in p["baseline"]
            else "-"
        )
        cb, cp = r["censored_seeds"]["baseline"], r["censored_seeds"]["proposed"]
        eb = _tok(r["emergence_baseline"]["mean"]) + (f" ({cb}/{n} never)" if cb else "")
        ep = _tok(r["emergence_proposed"]["mean"]) + (f" ({cp}/{n} never)" if cp else "")
        ci = r["emergence_shift_ci"]
        fci = r["final_change_ci"]
        sl = by_src.get(s)
        sl_txt = f"{sl['change']:+.3f} [{sl['change_ci'][0]:+.3f}, {sl['change_ci'][1]:+.3f}]"
        lines.append(
            f"| {s}{' *' if r['target'] else ''} | {share} | {eb} | {ep} | "
            f"{_signed_tok(r['emergence_shift'])} [{_signed_tok(ci[0])}, {_signed_tok(ci[1])}] | "
            f"{r['emergence_verdict']} | {r['final_baseline']:.2f} -> {r['final_proposed']:.2f} | "
            f"{r['final_change']:+.2f} [{fci[0]:+.2f}, {fci[1]:+.2f}] | "
            + (sl_txt if sl else "-")
            + " |"
        )
    loss = cmp["loss"]
    h, t = loss["heldout_baseline_mix"], loss["final_train_loss"]
    lines += [
        "",
        "## Loss",
        "",
        f"- Held-out loss on the baseline mix: {h['baseline']:.4f} -> {h['proposed']:.4f} "
        f"(change {h['change']:+.4f}, 95% CI over seeds [{h['change_ci'][0]:+.4f}, "
        f"{h['change_ci'][1]:+.4f}]; per seed {', '.join(f'{v:+.4f}' for v in h['per_seed'])}).",
        f"- Final training loss (each on its own mix, not comparable across mixes): "
        f"{t['baseline']:.4f} -> {t['proposed']:.4f}.",
        "",
        "## Verdict",
        "",
        f"- Targeted skills that emerged earlier (CI of the shift below 0): "
        f"{', '.join(cmp['targeted_earlier']) or 'none'}.",
        f"- Skills that got worse (later emergence or lower final score, CI excluding 0): "
        f"{', '.join(cmp['worse']) or 'none'}.",
        "",
        "## Proposal",
        "",
    ]
    lines += [f"- `{s}`: {why}" for s, why in p["reasons"].items()]
    if len(p["phases"]) > 1:
        lines.append("")
        for i, ph in enumerate(p["phases"], 1):
            mix = ", ".join(f"{k} {v:.3f}" for k, v in ph["mixture"].items())
            lines.append(f"- phase {i} ({ph['start']:.0%}-{ph['end']:.0%} of tokens): {mix}")
    lines += [f"- note: {x}" for x in p["notes"]]
    if cmp.get("plot"):
        lines += ["", f"![baseline vs proposed]({Path(cmp['plot']).name})"]
    return "\n".join(lines) + "\n"


def plot_verify(cmp: dict, path: str | Path, *, max_skills: int = 6):
    """Mean behavior curves, baseline vs proposed, of the targeted (else all) skills."""
    from matplotlib.figure import Figure

    skills = [s for s, r in cmp["skills"].items() if r["target"]] or list(cmp["skills"])
    skills = skills[:max_skills]
    fig = Figure(figsize=(3.2 * len(skills), 3))
    axes = fig.subplots(1, len(skills), squeeze=False)
    crit = cmp["criterion"]
    thr = crit["threshold"] if crit["method"] in ("fixed", "stable") else None
    for ax, s in zip(axes[0], skills, strict=False):
        for arm, color in (("baseline", "tab:gray"), ("proposed", "tab:blue")):
            c = cmp["skills"][s]["mean_curve"][arm]
            ax.plot(c["tokens"], c["value"], marker="o", ms=3, color=color, label=arm)
        first = next((t for t in cmp["skills"][s]["mean_curve"]["baseline"]["tokens"] if t), 1)
        ax.set_xscale("symlog", linthresh=first)
        if thr is not None:
            ax.axhline(thr, color="k", lw=0.6, ls=":")
        ax.set_title(s)
        ax.set_xlabel("tokens")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("behavior (mean over seeds)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


def format_proposal(p, sources: dict | None = None) -> str:
    """A plain-text table of the proposal."""
    lines = [f"strategy: {p.strategy}   baseline mixture: {p.baseline_source}"]
    lines.append(f"{'source':<20} {'baseline':>8} {'proposed':>8}  reason")
    for s in p.baseline:
        mark = "*" if s in p.targets else " "
        lines.append(f"{s:<19}{mark} {p.baseline[s]:>8.3f} {p.proposed[s]:>8.3f}  {p.reasons[s]}")
    if len(p.phases) > 1:
        for i, ph in enumerate(p.phases, 1):
            mix = ", ".join(f"{k} {v:.2f}" for k, v in ph.mixture.items())
            lines.append(f"phase {i} ({ph.start:.0%}-{ph.end:.0%} of tokens): {mix}")
    lines.append("* = targeted. Total training tokens unchanged; only shares move.")
    lines += [f"note: {n}" for n in p.notes]
    if sources:
        lines.append(
            "your data sources: "
            + ", ".join(
                f"{k} {sources['baseline'][k]:.3f} -> {v:.3f}"
                for k, v in sources["proposed"].items()
            )
        )
    return "\n".join(lines)
