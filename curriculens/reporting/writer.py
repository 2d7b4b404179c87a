"""The curriculum report of a run: a Markdown summary and a self-contained HTML page with figures.

It shows the curriculum table (emergence with bootstrap intervals), behavior curves, probe
heatmaps, the timeline, representation-vs-behavior lead/lag, the composite check and, for several
runs (seeds), the order-consistency matrix. Figures are written as PNG under ``RUN/figures/`` and
embedded in the HTML as data URIs, so the page travels alone. Every name shown is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from contextlib import nullcontext
from pathlib import Path

from curriculens.analysis.consistency import (
    composite_check,
    rank_consistency,
    registry_components,
)
from curriculens.analysis.curriculum import SkillEmergence, curriculum
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.leadlag import lead_lag
from curriculens.analysis.table import Selection, load_table, selecting, skill_info
from curriculens.errors import ConfigError
from curriculens.reporting.formatting import format_tokens, layer_name
from curriculens.reporting.plots import (
    plot_behavior,
    plot_consistency,
    plot_lead_lag,
    plot_probe_heatmaps,
    plot_timeline,
)
from curriculens.reporting.probes import baselines_table, meaning, probe_baselines


def _tok(t: float | None) -> str:
    return format_tokens(t)


def _interval(ci) -> str:
    if ci is None or ci.point is None:
        return ""
    lo = "?" if ci.lo is None else format_tokens(ci.lo)
    hi = "never" if ci.hi is None else format_tokens(ci.hi)
    return f" [{lo}, {hi}]"


def _unmeasurable(df, skill: str, kinds: tuple[str, ...]) -> str | None:
    """The text 'not measurable (REASON at step N)' when the skill's last checkpoint has no
    value of ``kinds`` (NaN weights or activations), else None: a final value is never carried
    over from an earlier checkpoint."""
    if "reason" not in df.columns:
        return None
    mine = df[(df.skill == skill) & df.kind.isin(kinds)]
    if mine.empty:
        return None
    last = mine[mine.tokens == mine.tokens.max()]
    if last.value.notna().any():
        return None
    reasons = last.reason.dropna()
    reason = str(reasons.iloc[0]).rstrip(".") if len(reasons) else "no value"
    if mine.value.isna().all():
        return f"not measurable ({reason})"
    return f"not measurable ({reason} at step {int(last.step.max())})"


def _probe_cell(e: SkillEmergence, gone: str | None) -> str:
    """'step-0 → final', with the final (or the whole cell) 'not measurable' when it is."""
    if gone is not None and e.probe_step0 != e.probe_step0:  # NaN at the first checkpoint too
        return gone
    return f"{e.probe_step0:.2f} → " + (gone or f"{e.probe_final:.2f}")


def _curriculum_table(emergence: list[SkillEmergence], cis: dict, df=None) -> list[list[str]]:
    rows = [
        [
            "#",
            "skill",
            "family",
            "metric",
            "final",
            "behavior emerges [95% CI]",
            "probe emerges",
            "probe step 0 → final",
            "best layer",
            "selectivity",
        ]
    ]
    for i, e in enumerate(emergence, 1):
        if e.probe_tokens is not None:
            probe = _tok(e.probe_tokens)
        elif e.probe_final - e.probe_step0 < 0.05:
            probe = "decodable at init" if e.probe_step0 >= 0.8 else "not decodable"
        else:
            probe = "not emerged"
        gone_b = None if df is None else _unmeasurable(df, e.skill, ("behavior",))
        gone_p = None if df is None else _unmeasurable(df, e.skill, ("probe",))
        rows.append(
            [
                str(i) if e.emerged else "–",
                e.skill,
                e.family + (f" ({'+'.join(e.components)})" if e.components else ""),
                e.metric,
                gone_b or f"{e.behavior_final:.2f}",
                _tok(e.behavior_tokens) + _interval(cis.get(e.skill)),
                probe,
                _probe_cell(e, gone_p),
                "–" if gone_p else layer_name(e.probe_layer),
                "–" if gone_p else f"{e.selectivity_final:+.2f}",
            ]
        )
    return rows


def _lead_table(results) -> list[list[str]]:
    rows = [
        [
            "skill",
            "reading",
            "best layer",
            "behavior",
            "representation",
            "lead (log10 tokens) [95% CI]",
            "verdict",
        ]
    ]
    for r in results:
        lead = "–" if r.lead_log10 is None else f"{r.lead_log10:+.2f}"
        if r.lead_log10 is not None and r.lo_log10 is not None and r.hi_log10 is not None:
            lead += f" [{r.lo_log10:+.2f}, {r.hi_log10:+.2f}]"
        rows.append(
            [
                r.skill,
                r.representation,
                layer_name(r.layer),
                _tok(r.behavior_tokens),
                _tok(r.representation_tokens),
                lead,
                r.verdict,
            ]
        )
    return rows


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def analyze(
    run: str | Path,
    *,
    threshold: float = 0.8,
    fraction: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
) -> dict:
    """Everything the report shows, as plain objects (also usable on its own)."""
    run = Path(run)
    df = load_table(run)
    runs = sorted(df.run.unique())
    emergence = curriculum(df, threshold=threshold, fraction=fraction)
    crit = dict(method="relative", threshold=threshold, fraction=fraction)
    cis = behavior_emergence(run, n_boot=n_boot, seed=seed, **crit)
    points = {r: {s: ci.point for s, ci in v.items()} for r, v in cis.items()}
    comps = registry_components(df.skill.unique(), df)
    composites = {r: composite_check(p, comps) for r, p in points.items()} if comps else {}
    leads = []
    for r in runs:
        leads += lead_lag(
            run, run=r, representations=("gain", "selectivity"), n_boot=n_boot, seed=seed
        )
    consistency = rank_consistency(points) if len(runs) > 1 else None
    baselines = _probe_baselines(run, df)
    return dict(
        baselines=baselines,
        df=df,
        runs=runs,
        emergence=emergence,
        cis=cis,
        points=points,
        composites=composites,
        leads=leads,
        consistency=consistency,
    )


def _probe_baselines(run: Path, df) -> list:
    """Each probed skill's final probe beside its baselines and its audit verdict."""
    from curriculens.analysis.audit import audit_run
    from curriculens.errors import StoreError

    skills = list(dict.fromkeys(df.loc[df.kind == "probe", "skill"]))
    try:
        audit = {k: r.verdict for k, r in audit_run(run, skills=skills).items()} if skills else {}
    except StoreError:  # a run swept before probe items were stored
        audit = {}
    info = skill_info(df, skills)
    return probe_baselines(df, {s: info.get(s, {}).get("probe", "") for s in skills}, audit)


def write_report(
    run: str | Path,
    *,
    threshold: float = 0.8,
    fraction: float = 0.9,
    n_boot: int = 200,
    seed: int = 0,
    out: str | Path | None = None,
    select: Selection | None = None,
) -> Path:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into ``out`` (default: the run
    directory); return the HTML path.

    The report shows the run's current results (``select`` picks another configuration, see
    :mod:`curriculens.analysis.table`).

    >>> write_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')
    """
    run = Path(run)
    if select is not None and select.all:
        raise ConfigError(
            "The report pools the runs of a store, so it shows one configuration at a time; "
            "pass --config KEY (Selection(config=KEY)) instead of --all."
        )
    with selecting(select) if select is not None else nullcontext():
        return _write_report(
            run, Path(out) if out is not None else run, threshold, fraction, n_boot, seed
        )


def _write_report(
    run: Path, dest: Path, threshold: float, fraction: float, n_boot: int, seed: int
) -> Path:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        probe = dest / ".report-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(
            f"Cannot write the report into {str(dest)!r} ({e.strerror or e}); pass --out DIR "
            "on writable storage."
        ) from None
    a = analyze(run, threshold=threshold, fraction=fraction, n_boot=n_boot, seed=seed)
    df, emergence, runs = a["df"], a["emergence"], a["runs"]
    first_cis = a["cis"].get(runs[0], {}) if len(runs) == 1 else {}
    intervals = {s: (ci.lo, ci.hi) for s, ci in first_cis.items()}
    skills = [e.skill for e in emergence]
    figs = {
        "behavior": plot_behavior(df, skills, emergence=emergence, threshold=threshold),
        "timeline": plot_timeline(emergence, intervals=intervals),
        "probes": plot_probe_heatmaps(df, skills),
    }
    gain = [r for r in a["leads"] if r.run == runs[0]]
    if gain:
        figs["leadlag"] = plot_lead_lag(gain)
    if a["consistency"] is not None:
        figs["consistency"] = plot_consistency(a["consistency"])
    fig_dir = dest / "figures"
    fig_dir.mkdir(exist_ok=True)
    pngs = {}
    for name, fig in figs.items():
        pngs[name] = _png(fig)
        (fig_dir / f"{name}.png").write_bytes(pngs[name])

    emerged = [e for e in emergence if e.emerged]
    never = [e.skill for e in emergence if not e.emerged]
    pooled = f" (curves averaged over {len(runs)} runs)" if len(runs) > 1 else ""
    summary = [
        f"{len(emerged)} of {len(emergence)} skills emerged in behavior{pooled}: primary metric "
        f"≥ {threshold} and ≥ {fraction:.0%} of its final value.",
        "Order: "
        + (" → ".join(f"{e.skill} ({_tok(e.behavior_tokens)})" for e in emerged) or "none"),
        "Never emerged in this run: " + (", ".join(never) if never else "none") + ".",
        "Probes are split by group (no test prompt or entity seen in training) and every probe "
        "number stands beside its control, majority, first-checkpoint and embedding baselines "
        "(see 'Probes beside their baselines'). Probe emergence is measured as gain above the "
        "first checkpoint's probe. Selectivity = probe − control-task accuracy at the last "
        f"checkpoint (best layer). Intervals resample evaluation examples ({n_boot} bootstrap "
        "draws).",
    ]
    sections: list[tuple[str, list[list[str]], str]] = [
        ("Curriculum", _curriculum_table(emergence, first_cis, df), ""),
    ]
    if a["baselines"]:
        sections.append(
            (
                "Probes beside their baselines",
                baselines_table(a["baselines"]),
                "Final checkpoint, best layer. Probes are trained and tested on disjoint groups "
                "(no test prompt or entity is seen in training); control = the same probe on "
                "one random class per group; majority = the most common training class; first "
                "checkpoint = the same layer before (most of) training; embeddings = the "
                "embedding layer. audit: see `curriculens audit`.",
            )
        )
        sections.append(
            (
                "What each probe number means",
                [["skill", "reading"], *[[b.skill, meaning(b)] for b in a["baselines"]]],
                "",
            )
        )
    if a["leads"]:
        sections.append(
            (
                "Representation vs behavior",
                _lead_table(a["leads"]),
                "Each curve emerges where its rise above its own start reaches half its maximum "
                "rise (gain: probe above its step-0 score; selectivity: probe − control task). "
                "Lead > 0 means the representation came first; 'together' means the interval "
                "covers 0.",
            )
        )
    for r, cc in a["composites"].items():
        rows = [["composite", "late component", "composite emerges", "component emerges"]]
        rows += [[c, p, _tok(tc), _tok(tp)] for c, p, tc, tp in cc.exceptions]
        share = "n/a" if cc.share is None else f"{cc.share:.0%}"
        sections.append(
            (
                f"Composites vs components ({r})",
                rows,
                f"{share} of {cc.n} composites emerge no earlier than all of their components; "
                "listed below are the exceptions (components that came later)."
                + (f" Skipped: {', '.join(cc.skipped)}." if cc.skipped else ""),
            )
        )
    if a["consistency"] is not None:
        c = a["consistency"]
        rows = [["run A", "run B", "tasks", "Spearman", "Kendall"]]
        rows += [[p.a, p.b, str(p.n), _r(p.spearman), _r(p.kendall)] for p in c.pairs]
        em_rows = [["skill", *runs]]
        em_rows += [[s, *[_tok(a["points"][r].get(s)) for r in runs]] for s in skills]
        sections.append(("Emergence per run", em_rows, ""))
        sections.append(
            (
                "Order consistency across runs",
                rows,
                f"Task set: {c.task_set} ({len(c.common_tasks)} tasks common to all runs); "
                "censored skills tie at the bottom.",
            )
        )
    meta = _run_meta(run)
    _write_md(dest, summary, sections, pngs, meta, name=run.name)
    out = dest / "report.html"
    out.write_text(_html(run.name, summary, sections, pngs, meta))
    return out


def _r(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _md(text: str) -> str:
    """Text for Markdown: HTML in names is shown, never rendered (and ``|`` keeps tables)."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


def _write_md(dest: Path, summary, sections, pngs, meta, *, name: str) -> None:
    md = [f"# Curriculum report: {_md(name)}", "", *[f"- {_md(s)}" for s in summary]]
    for title, rows, note in sections:
        md += ["", f"## {_md(title)}", ""] + ([_md(note), ""] if note else [])
        md += ["| " + " | ".join(map(_md, rows[0])) + " |", "|" + "---|" * len(rows[0])]
        md += ["| " + " | ".join(map(_md, r)) + " |" for r in rows[1:]]
    md += ["", "## Figures", "", *[f"![{n}](figures/{n}.png)" for n in pngs]]
    if meta:
        md += ["", "## Run", "", "```json", json.dumps(meta, indent=1), "```"]
    (dest / "report.md").write_text("\n".join(md) + "\n")


def _html(name: str, summary, sections, pngs, meta) -> str:
    esc = html.escape
    body = [
        f"<h1>Curriculum report: {esc(name)}</h1>",
        "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in summary) + "</ul>",
    ]
    for title, rows, note in sections:
        body.append(f"<h2>{esc(title)}</h2>" + (f"<p>{esc(note)}</p>" if note else ""))
        body.append(
            "<table><tr>"
            + "".join(f"<th>{esc(c)}</th>" for c in rows[0])
            + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            + "</table>"
        )
    body.append("<h2>Figures</h2>")
    body += [
        f'<figure><img alt="{esc(n)}" src="data:image/png;base64,'
        f'{base64.b64encode(b).decode()}"/><figcaption>{esc(n)}</figcaption></figure>'
        for n, b in pngs.items()
    ]
    body.append(f"<h2>Run</h2><pre>{esc(json.dumps(meta, indent=1))}</pre>")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Curriculum report: {esc(name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:14px;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:3px 8px}}img{{max-width:100%}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}}</style>
</head><body>{"".join(body)}</body></html>"""


def _run_meta(run: Path) -> dict:
    meta = {}
    for name in ("demo.json", "train_summary.json", "train_config.json", "sweep_config.json"):
        p = run / name
        if p.exists():
            d = json.loads(p.read_text())
            d.pop("loss_curve", None)
            meta[name.removesuffix(".json")] = d
    return meta
