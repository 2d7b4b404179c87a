"""`curriculens emergence` lists tasks in order of emergence, not alphabetically."""

from curriculens.cli.main import main


def test_emergence_rows_follow_the_emergence_point(tmp_path, capsys):
    rows = ["model,tokens,task,score"]
    for i, tokens in enumerate([1e6, 2e6, 4e6, 8e6, 16e6, 32e6]):
        rows += [
            f"m,{tokens:.0f},a_never,0.1",
            f"m,{tokens:.0f},b_late,{0.95 if i >= 4 else 0.1}",
            f"m,{tokens:.0f},c_early,{0.95 if i >= 1 else 0.1}",
        ]
    csv = tmp_path / "curves.csv"
    csv.write_text("\n".join(rows) + "\n")
    assert main(["emergence", str(csv)]) == 0
    out = capsys.readouterr().out
    order = [line.split()[0] for line in out.splitlines() if line.startswith(("a_", "b_", "c_"))]
    assert order == ["c_early", "b_late", "a_never"]
