"""The report of imported curves (lm-eval folders, tidy CSVs): behavior per model, emergence,
order and consistency, and a plain statement that probes and lead/lag are absent (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curriculens.cli.main import main
from curriculens.reporting.imported import NO_PROBES, is_curves_input, task_families

PYTHIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pythia-evals"


def _csv(path: Path) -> Path:
    """Two models: task a rises at 100 tokens in m1 and at 10k in m2; b never rises."""
    lines = ["model,tokens,task,score"]
    for model, rise in (("org/m1", 100), ("org/m2", 10_000)):
        for t in (0, 10, 100, 1000, 10_000, 100_000):
            lines += [f"{model},{t},a,{0.95 if t >= rise else 0.05}", f"{model},{t},b,0.1"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_report_of_csv_curves_keeps_models_apart_and_says_what_is_missing(tmp_path, capsys):
    src = _csv(tmp_path / "curves.csv")
    out = tmp_path / "rep"
    assert main(["report", str(src), "--out", str(out), "--criterion", "paper", "--smooth", "0",
                 "--bootstrap", "0"]) == 0  # fmt: skip
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    # each model's own emergence point, never an average of the two curves
    assert "org/m1: When do skills emerge? 1 of 2 skills emerged in behavior, from a at 100" in md
    assert "org/m2: When do skills emerge? 1 of 2 skills emerged in behavior, from a at 10k" in md
    for title in ("## Curriculum: org/m1", "## Curriculum: org/m2", "## Emergence per run",
                  "## Order consistency across runs", "## Not measured"):  # fmt: skip
        assert title in md
    assert NO_PROBES in md and "no activations were measured" in html
    tables = md.split("## Curriculum: org/m1")[1].split("## Not measured")[0]
    assert "best layer" not in tables and "lead/lag" not in tables  # behavior columns only
    figs = {p.name for p in (out / "figures").iterdir()}
    for stem in ("timeline-m1", "behavior-m1", "timeline-m2", "behavior-m2", "consistency"):
        assert {f"{stem}.svg", f"{stem}.pdf", f"{stem}.png"} <= figs
    assert not (tmp_path / "figures").exists()  # nothing written beside the input


def test_curve_inputs_need_out_and_refuse_run_only_flags(tmp_path, capsys):
    src = _csv(tmp_path / "curves.csv")
    assert main(["report", str(src)]) == 2
    assert "pass --out DIR" in capsys.readouterr().err
    assert main(["report", str(src), "--out", str(tmp_path / "r"), "--config", "abc"]) == 2
    assert "imported curves have no configurations or probes" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.sqlite").write_bytes(b"")
    assert main(["report", str(run), "--revision-tokens", "main=1e9"]) == 2
    assert "--revision-tokens read imported curves" in capsys.readouterr().err
    assert is_curves_input(src) and not is_curves_input(run)
    trained = tmp_path / "trained"  # a demo stopped before its sweep wrote results.sqlite
    (trained / "checkpoints").mkdir(parents=True)
    (trained / "train_summary.json").write_text("{}")
    assert not is_curves_input(trained)
    assert main(["report", str(trained)]) == 2
    assert "No results store" in capsys.readouterr().err


def test_task_families_group_shared_prefixes():
    fam = task_families(["hendrycksTest-anatomy", "hendrycksTest-virology", "arc_easy",
                         "arc_challenge", "sciq", "piqa"])  # fmt: skip
    assert fam["hendrycksTest-anatomy"] == "hendrycksTest" and fam["arc_easy"] == "arc"
    assert fam["sciq"] == fam["piqa"] == "other"


@pytest.mark.slow  # about a minute: 130 curves, 13 figures in 3 formats
@pytest.mark.skipif(not PYTHIA.is_dir(), reason="../shared/data/pythia-evals is not here")
def test_report_of_the_pythia_lm_eval_folders(tmp_path, capsys):
    """#17 done-when: `curriculens report` works on the shared Pythia lm-eval folders."""
    out = tmp_path / "pythia"
    assert main(["report", str(PYTHIA), "--out", str(out), "--bootstrap", "0"]) == 0
    md = (out / "report.md").read_text()
    assert "EleutherAI/pythia-v1.1-160m: When do skills emerge? 0 of 65" in md
    # sciq passes the 0.8 floor in the 410m model only
    assert "EleutherAI/pythia-v1.1-410m: When do skills emerge? 1 of 65 skills emerged" in md
    assert "| EleutherAI/pythia-v1.1-160m | EleutherAI/pythia-v1.1-410m | 65 |" in md
    assert NO_PROBES in md and "--criterion paper-relative" in md
    # per model: 65 tasks in timeline pages of 18 (4) and 7 behavior panels (arc, other and
    # hendrycksTest's 57 in 5 of at most 12) in pages of 6 (2); then the consistency matrix
    names = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert len(names) == 2 * (4 + 2) + 1 and "consistency" in names
    assert "timeline-pythia-v1.1-160m-4" in names and "behavior-pythia-v1.1-410m-2" in names
    from PIL import Image

    for png in (out / "figures").glob("*.png"):
        assert max(Image.open(png).size) <= 3000, png.name  # no figure over 3,000 px


def test_a_run_report_still_reads_the_leadlag_criterion_flag(tiny_run, tmp_path):
    run = tiny_run[0]
    for flag, name in (([], "paper-relative"), (["--leadlag-criterion", "paper"], "paper")):
        out = tmp_path / name
        assert main(["report", str(run), "--out", str(out), "--bootstrap", "0", *flag]) == 0
        md = (out / "report.md").read_text()
        assert f"Both curves are read with one criterion, {name}:" in md


def test_import_flags_reach_the_importer(tmp_path):
    import json

    ev = tmp_path / "ev"
    ev.mkdir()
    for step, (acc, norm) in {0: (0.1, 0.2), 1000: (0.3, 0.9), 2000: (0.35, 0.95)}.items():
        doc = {"results": {"t:x": {"acc": acc, "acc_norm": norm}}, "config": {}}
        (ev / f"m_step{step}.json").write_text(json.dumps(doc))
    base = ["report", str(ev), "--bootstrap", "0", "--smooth", "0"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    md = (tmp_path / "a" / "report.md").read_text()
    assert "| t_x | other | score | 0.35 | not emerged" in md  # acc; ':' -> '_' as the paper
    flags = ["--metric", "acc_norm", "--keep-names", "--tokens-per-step", "10"]
    assert main([*base, "--out", str(tmp_path / "b"), *flags]) == 0
    md = (tmp_path / "b" / "report.md").read_text()
    assert "| t:x | other | score | 0.95 | at init (<= 10k) |" in md  # 1000 steps x 10
    cols = tmp_path / "c.csv"
    cols.write_text("run_name,tokens,task,acc_em\nm,10,t,0.1\nm,100,t,0.9\nm,1000,t,0.9\n")
    argv = [*base[:1], str(cols), "--out", str(tmp_path / "c"), "--columns", "run_name=model",
            "--columns", "acc_em=score", "--bootstrap", "0", "--smooth", "0"]  # fmt: skip
    assert main(argv) == 0
    assert (
        "| t | other | score | 0.90 | 100 (10, 100] |" in (tmp_path / "c" / "report.md").read_text()
    )


def test_imported_curves_are_read_without_a_store(tmp_path, monkeypatch):
    """The curves go straight into the tidy table the report reads: no (temporary) store."""
    from curriculens.reporting.imported import curves_frame, write_curves_report
    from curriculens.store import Store

    def no_store(self, *a, **kw):
        raise AssertionError("imported curves should not be written to a store")

    monkeypatch.setattr(Store, "__init__", no_store)
    src = _csv(tmp_path / "curves.csv")
    df = curves_frame(src)
    assert set(df.run) == {"org/m1", "org/m2"} and set(df.kind) == {"behavior"}
    assert df.attrs["skills"]["a"]["family"] == "other"
    page = write_curves_report(src, out=tmp_path / "rep", n_boot=20, smooth=0)
    assert "## Curriculum: org/m2" in page.with_suffix(".md").read_text()


def test_an_unwritable_report_folder_is_exit_1_for_imported_curves_too(
    tmp_path, capsys, monkeypatch
):
    """Run reports and imported-curve reports share one write check: the storage, not the
    request, is at fault (exit 1), named with the fix, before any figure is drawn."""
    import errno

    src = _csv(tmp_path / "curves.csv")
    real = Path.write_bytes

    def read_only(self, data):
        if self.name == ".report-write-test":
            raise OSError(errno.EROFS, "Read-only file system")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    out = tmp_path / "rep"
    assert main(["report", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Cannot write the report into" in err and "--out DIR on writable storage" in err
    assert not (out / "figures").exists() and not (out / "report.md").exists()
    # the library call reaches the same check and the same error type (exit 1 under the CLI)
    from curriculens.errors import EnvironmentProblem
    from curriculens.reporting.imported import write_curves_report

    with pytest.raises(EnvironmentProblem, match="Cannot write the report into"):
        write_curves_report(src, out=tmp_path / "rep2")
