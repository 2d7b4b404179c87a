"""The curriculum report of a run: a Markdown summary and a self-contained HTML page with figures.

Figures are written as PNG under ``RUN/figures/`` and embedded in the HTML as data URIs, so the
page can be mailed around. Every name shown is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt

from curriculens.analysis.curriculum import SkillEmergence, curriculum, load_table
from curriculens.plots import _fmt_tokens, plot_behavior, plot_probe_heatmaps, plot_timeline


def _tok(t: float | None) -> str:
    return "not emerged" if t is None else _fmt_tokens(t)


def _table(emergence: list[SkillEmergence]) -> list[list[str]]:
    head = [
        "#",
        "skill",
        "family",
        "metric",
        "final",
        "behavior emerges",
        "probe emerges",
        "probe step 0 → final",
        "best layer",
        "selectivity",
    ]
    rows = [head]
    for i, e in enumerate(emergence, 1):
        rows.append(
            [
                str(i) if e.emerged else "–",
                e.skill,
                e.family + (f" ({'+'.join(e.components)})" if e.components else ""),
                e.metric,
                f"{e.behavior_final:.2f}",
                _tok(e.behavior_tokens),
                _tok(e.probe_tokens)
                if e.probe_step0 < e.probe_final - 0.05 or e.probe_tokens
                else "decodable at init",
                f"{e.probe_step0:.2f} → {e.probe_final:.2f}",
                "emb" if e.probe_layer == 0 else f"L{e.probe_layer}",
                f"{e.selectivity_final:+.2f}",
            ]
        )
    return rows


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def write_report(run: str | Path, *, threshold: float = 0.8, fraction: float = 0.9) -> Path:
    """Write ``RUN/report.html``, ``RUN/report.md`` and ``RUN/figures/*.png``; return the HTML path.

    >>> write_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')
    """
    run = Path(run)
    df = load_table(run)
    emergence = curriculum(df, threshold=threshold, fraction=fraction)
    skills = [e.skill for e in emergence]
    figs = {
        "behavior": plot_behavior(df, skills, emergence=emergence, threshold=threshold),
        "timeline": plot_timeline(emergence),
        "probes": plot_probe_heatmaps(df, skills),
    }
    fig_dir = run / "figures"
    fig_dir.mkdir(exist_ok=True)
    pngs = {}
    for name, fig in figs.items():
        pngs[name] = _png(fig)
        (fig_dir / f"{name}.png").write_bytes(pngs[name])
    emerged = [e for e in emergence if e.emerged]
    never = [e.skill for e in emergence if not e.emerged]
    summary = [
        f"{len(emerged)} of {len(emergence)} skills emerged in behavior (primary metric ≥ "
        f"{threshold} and ≥ {fraction:.0%} of its final value).",
        "Order: "
        + (" → ".join(f"{e.skill} ({_tok(e.behavior_tokens)})" for e in emerged) or "none"),
        "Never emerged in this run: " + (", ".join(never) if never else "none") + ".",
        "Probe emergence is measured as gain above the step-0 (random-init) probe, because many "
        "labels are linearly decodable from random weights; 'decodable at init' marks those "
        "with no measurable gain. Selectivity = probe − control-task accuracy at the last "
        "checkpoint (best layer).",
    ]
    meta = _run_meta(run)
    table = _table(emergence)
    md = [f"# Curriculum report: {run.name}", "", *[f"- {s}" for s in summary], ""]
    md += ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    md += ["| " + " | ".join(r) + " |" for r in table[1:]]
    md += ["", *[f"![{n}](figures/{n}.png)" for n in pngs]]
    if meta:
        md += ["", "## Run", "", "```json", json.dumps(meta, indent=1)[:4000], "```"]
    (run / "report.md").write_text("\n".join(md) + "\n")

    esc = html.escape
    trs = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in table[1:])
    ths = "".join(f"<th>{esc(c)}</th>" for c in table[0])
    imgs = "".join(
        f'<figure><img alt="{esc(n)}" src="data:image/png;base64,'
        f'{base64.b64encode(b).decode()}"/></figure>'
        for n, b in pngs.items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Curriculum report: {esc(run.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:14px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
img{{max-width:100%}}pre{{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}}</style>
</head><body><h1>Curriculum report: {esc(run.name)}</h1>
<ul>{"".join(f"<li>{esc(s)}</li>" for s in summary)}</ul>
<table><tr>{ths}</tr>{trs}</table>{imgs}
<h2>Run</h2><pre>{esc(json.dumps(meta, indent=1))}</pre></body></html>"""
    out = run / "report.html"
    out.write_text(page)
    return out


def _run_meta(run: Path) -> dict:
    meta = {}
    for name in ("train_summary.json", "train_config.json", "sweep_config.json", "demo.json"):
        p = run / name
        if p.exists():
            d = json.loads(p.read_text())
            d.pop("loss_curve", None)
            meta[name.removesuffix(".json")] = d
    return meta
