"""fv and fv_discovered: planted series where task vectors carry a composite's trajectory (fv
beats the product of its components' curves) and where they do not (fv does not), through a
store and ``curriculens predict``; and proof that a held-out composite's own curve never
enters its prediction."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.fv import FV_METHODS, predict_trajectories
from curriculens.analysis.table import SKILLS_META_KEY
from curriculens.cli.main import main
from curriculens.store import Row, Store, VectorRow

D = 24
TOKENS = (0, 100, 200, 400, 800, 1600, 3200, 6400)
ELEMENTALS = ("e0", "e1", "e2", "e3", "e4", "e5")
COMPOSITES = {"c01": ("e0", "e1"), "c23": ("e2", "e3"), "c45": ("e4", "e5"), "c13": ("e1", "e3")}
HOOKS = ("hook_embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post")


def _ramp(t: np.ndarray, mid: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(np.log10(t + 1) - mid) * 4))


def _planted(carries: bool, models=("m0", "m1"), seed: int = 0):
    """``(curves, vector rows)``. ``carries``: each composite's vector at t is its components'
    vectors mixed with weights that drift over training, and its curve is 0.7 x the components'
    curves weighted by that projection; else its curve is the product of its components' curves
    and its vector a random direction."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(D, D)))[0][:, : len(ELEMENTALS)].T  # orthonormal
    t = np.array(TOKENS, float)
    curves, vectors = [], []
    for mi, model in enumerate(models):
        acc = {e: _ramp(t, 1.2 + 0.35 * i + 0.1 * mi) for i, e in enumerate(ELEMENTALS)}
        vec = {e: np.repeat(basis[i][None], len(t), 0) for i, e in enumerate(ELEMENTALS)}
        for ci, (c, (a, b)) in enumerate(COMPOSITES.items()):
            alpha = 0.1 + 0.8 * _ramp(t, 1.5 + 0.3 * ci)  # the mix drifts from a to b
            mix = alpha[:, None] * vec[a] + (1 - alpha[:, None]) * vec[b]
            norm = np.linalg.norm(mix, axis=1)
            if carries:
                vec[c] = mix / norm[:, None]
                acc[c] = 0.7 * (alpha * acc[a] + (1 - alpha) * acc[b]) / norm
            else:
                r = rng.normal(size=(len(t), D))
                vec[c] = r / np.linalg.norm(r, axis=1)[:, None]
                acc[c] = acc[a] * acc[b]
        for skill, y in acc.items():
            curves += [(model, float(tk), skill, float(v)) for tk, v in zip(t, y, strict=True)]
        for skill, vs in vec.items():
            for i, tk in enumerate(t):
                for h in HOOKS:
                    v = vs[i] if h != "hook_embed" else np.zeros(D)  # the embedding: no direction
                    noisy = v + (0.01 * rng.normal(size=D) if h == HOOKS[1] else 0)
                    n = float(np.linalg.norm(noisy))
                    vectors.append(
                        dict(
                            run=model,
                            tokens=tk,
                            hook=h,
                            skill=skill,
                            norm=n,
                            data=(noisy / n if n else noisy).astype(np.float32),
                        )
                    )
    df = pd.DataFrame(curves, columns=["model", "tokens", "task", "score"])
    return df, vectors


def _write_store(path, curves: pd.DataFrame, vectors) -> None:
    """The planted series as a curriculens store: behavior rows, vector rows, a skill snapshot."""
    with Store(path) as store:
        snap = {
            s: {"primary_metric": "exact_match", "components": list(COMPOSITES.get(s, ()))}
            for s in curves["task"].unique()
        }
        store.set_meta(SKILLS_META_KEY, snap)
        for (model, tokens), g in curves.groupby(["model", "tokens"]):
            ck, fp = f"step{int(tokens)}", f"fp-{model}-{int(tokens)}"
            rows = [
                Row(
                    run=model,
                    checkpoint=ck,
                    step=int(tokens),
                    tokens=int(tokens),
                    fingerprint=fp,
                    skill=r.task,
                    skill_version=1,
                    skill_hash="h",
                    kind="behavior",
                    hook="",
                    layer=-1,
                    metric="exact_match",
                    value=r.score,
                    n=100,
                    probe_key="k",
                )
                for r in g.itertuples()
            ]
            rows += [
                VectorRow(
                    run=model,
                    checkpoint=ck,
                    step=int(tokens),
                    tokens=int(tokens),
                    fingerprint=fp,
                    skill=v["skill"],
                    skill_hash="h",
                    probe_key="k",
                    hook=v["hook"],
                    layer=0 if v["hook"] == "hook_embed" else int(v["hook"].split(".")[1]) + 1,
                    variant="resid",
                    n=100,
                    norm=v["norm"],
                    data=v["data"],
                )
                for v in vectors
                if v["run"] == model and v["tokens"] == tokens
            ]
            store.write_unit(model, fp, f"unit-{fp}", ck, rows)


def _predict_json(tmp_path, carries: bool):
    curves, vectors = _planted(carries)
    _write_store(tmp_path / "run", curves, vectors)
    return tmp_path / "run"


def test_vectors_that_carry_the_trajectory_beat_the_product(tmp_path, capsys):
    run = _predict_json(tmp_path, carries=True)
    assert main(["predict", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["composites"]) == 2 * len(COMPOSITES)
    for c in out["composites"]:
        assert set(c["r2"]) == {"product", "min", "mean", *FV_METHODS}
        assert c["r2"]["fv"] > c["r2"]["product"] + 0.1, c
        assert c["r2"]["fv"] > 0.9 and c["r2_pearson"]["fv"] > 0.9, c
        assert c["r2"]["fv_discovered"] > 0.9, c
        assert c["hooks"]["fv"] != "hook_embed"  # no direction there: never chosen
        assert set(c["weights"]["fv"]) == set(c["components"])
    assert out["mean_r2"]["fv"] > out["mean_r2"]["product"]
    # the shape too, where calibration cannot help (r2_pearson ignores offset and scale)
    assert out["mean_r2_pearson"]["fv"] > out["mean_r2_pearson"]["product"] + 0.1


def test_vectors_that_do_not_carry_it_do_not_beat_the_product(tmp_path, capsys):
    run = _predict_json(tmp_path, carries=False)
    assert main(["predict", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for c in out["composites"]:
        assert c["r2"]["product"] == pytest.approx(1.0)  # the planted truth
        assert c["r2"]["fv"] < c["r2"]["product"] - 0.05, c
        assert c["r2"]["fv_discovered"] < c["r2"]["product"] - 0.05, c
    assert out["mean_r2"]["fv"] < out["mean_r2"]["product"]
    assert out["mean_r2_pearson"]["fv"] < out["mean_r2_pearson"]["product"]
    assert main(["predict", str(run)]) == 0
    text = capsys.readouterr().out
    assert "fv_discovered" in text and "c01" in text


@pytest.mark.parametrize("carries", [True, False])
def test_the_held_out_curve_never_enters_its_prediction(carries):
    curves, vectors = _planted(carries)
    before = predict_trajectories(curves, COMPOSITES, vectors)
    for held in ("c01", "c45"):
        shuffled = curves.copy()
        mask = (shuffled["task"] == held) & (shuffled["tokens"] > 0)
        values = shuffled.loc[mask, "score"].to_numpy()
        shuffled.loc[mask, "score"] = np.random.default_rng(1).permutation(values)[::-1]
        after = predict_trajectories(shuffled, COMPOSITES, vectors)
        for b, a in zip(before.composites, after.composites, strict=True):
            if b.name != held:
                continue
            assert a.actual != b.actual  # its curve did change ...
            for m in FV_METHODS:  # ... and its fitted predictions did not
                assert a.predicted[m] == pytest.approx(b.predicted[m], abs=1e-9)
                assert a.hooks[m] == b.hooks[m]


def test_one_composite_leaves_nothing_to_calibrate_on():
    curves, vectors = _planted(True, models=("m0",))
    keep = {"c01", *ELEMENTALS}
    curves = curves[curves["task"].isin(keep)]
    p = predict_trajectories(curves, {"c01": COMPOSITES["c01"]}, vectors)
    (c,) = p.composites
    assert set(c.r2) == {"product", "min", "mean"}  # fv methods left out, with the reason:
    assert any("two or more composites" in r for _, name, r in p.skipped if name == "c01")
    assert p.mean("r2")["fv"] is None


def test_without_vectors_only_the_baselines_apply():
    curves, _ = _planted(True)
    p = predict_trajectories(curves, COMPOSITES, [])
    assert p.methods == ("product", "min", "mean")
    assert "fv" not in p.to_json()["mean_r2"]


def test_the_report_shows_each_composite_against_its_predictions(tmp_path):
    from curriculens.reporting.writer import write_report

    curves, vectors = _planted(True)
    _write_store(tmp_path / "run", curves, vectors)
    write_report(tmp_path / "run")
    md = (tmp_path / "run" / "report.md").read_text()
    section = md[md.index("## Composite trajectories from task vectors") :]
    assert "fv beats the product" in section
    for name in COMPOSITES:
        assert f"| m0 | {name} |" in section and f"| m1 | {name} |" in section
    for fmt in ("svg", "pdf", "png"):
        assert (tmp_path / "run" / "figures" / f"trajectories.{fmt}").stat().st_size > 0
    assert "trajectories" in (tmp_path / "run" / "report.html").read_text()
    # the decoy null beside it: each composite's product rank among all elemental pairs
    from curriculens.reporting.trajectories import trajectory_prediction

    p = trajectory_prediction(tmp_path / "run")
    decoys = md[md.index("## Composites against decoy components") :]
    for c in p.composites:
        d = c.decoys["product"]["r2"]
        assert d.n > 0 and d.rank is not None
        row = f"| {c.model} | {c.name} | {' + '.join(c.components)} | {c.r2['product']:.3f} | "
        assert row + f"{d.rank} (of {d.n + 1}" in decoys
    first = sum(c.decoys["product"]["r2"].first for c in p.composites)
    assert f"product: first for {first} of {len(p.composites)}" in decoys


def test_a_run_without_vectors_has_no_trajectory_section(tmp_path):
    from curriculens.reporting.trajectories import trajectory_prediction

    curves, _ = _planted(True)
    _write_store(tmp_path / "run", curves, [])
    assert trajectory_prediction(tmp_path / "run") is None


def test_the_docs_example_runs_and_shows_what_it_claims(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "predict.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "docs/predict.md", "exec"), scope)  # noqa: S102 - our own documentation
    p = scope["p"]
    assert p.mean("r2")["fv"] > 0.9 > p.mean("r2")["product"]
    assert "mean r2" in capsys.readouterr().out
