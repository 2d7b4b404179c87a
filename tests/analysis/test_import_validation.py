"""Imported curves are never coerced without a word (issue 29, item 4): token counts are
non-negative integers, scores numbers in [0, 1] (a 0-100 scale is refused with the fix),
booleans are not numbers, and locale decimals are refused with their line number."""

from __future__ import annotations

import json

import pytest

from curriculens.analysis.importers import load_curves, read_tidy_csv
from curriculens.analysis.lm_eval import read_lm_eval
from curriculens.cli.main import main
from curriculens.errors import ConfigError

HEAD = "model,checkpoint,tokens,task,score\n"


def _csv(tmp_path, body: str, head: str = HEAD):
    p = tmp_path / "curves.csv"
    p.write_text(head + body)
    return p


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('m,c1,16000,t,0.1\nm,c2,32000,t,"0,9"\n', ["line 3", "decimal comma", "'0.9'"]),
        ("m,c1,-5,t,0.1\n", ["line 2", "non-negative integer"]),
        ("m,c1,1e30,t,0.1\n", ["line 2", "2**53", "token count 1e+30 is"]),  # as written
        ("m,c1,1.5,t,0.1\n", ["line 2", "non-negative integer"]),
        ("m,c1,100,t,10\nm,c2,200,t,95\n", ["0-100", "divide the score column by 100"]),
        ("m,c1,100,t,1.5\nm,c2,200,t,-0.5\n", ["outside [0, 1]"]),
        ("m,c1,100,t,True\nm,c2,200,t,False\n", ["boolean"]),
        ("m,c1,100,t,abc\n", ["line 2", "'abc' is not a number"]),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_their_line(tmp_path, body, needles):
    p = _csv(tmp_path, body)
    with pytest.raises(ConfigError) as e:
        read_tidy_csv(p)
    for n in needles:
        assert n in str(e.value), (n, str(e.value))


def test_a_step_that_is_not_a_number_is_one_line(tmp_path, capsys):
    p = _csv(tmp_path, "m,c1,100,1,t,0.1\nm,c2,200,abc,t,0.2\n",
             head="model,checkpoint,tokens,step,task,score\n")  # fmt: skip
    assert main(["emergence", str(p)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "'abc' is not a number" in err and "Traceback" not in err


def test_a_newline_in_a_task_name_is_refused(tmp_path):
    p = _csv(tmp_path, 'm,c1,100,"two\nlines",0.1\n')
    with pytest.raises(ConfigError, match="line break"):
        read_tidy_csv(p)


def _lm_eval(tmp_path, name: str, results) -> object:
    d = tmp_path / "lm"
    d.mkdir(exist_ok=True)
    (d / name).write_text(json.dumps({"results": results}) if not isinstance(results, str)
                          else results)  # fmt: skip
    return d


def test_lm_eval_boolean_accuracy_is_not_one(tmp_path):
    d = _lm_eval(tmp_path, "step1000.json", {"arc": {"acc": True}})
    with pytest.raises(ConfigError, match="not a number"):
        read_lm_eval(d)


def test_lm_eval_percent_scores_and_null_metrics(tmp_path):
    d = _lm_eval(tmp_path, "step1000.json", {"arc": {"acc": 55.0}, "b": {"acc": None}})
    with pytest.raises(ConfigError, match="0-100"):
        read_lm_eval(d)
    (d / "step1000.json").write_text(json.dumps({"results": {"arc": {"acc": 0.55},
                                                             "b": {"acc": None}}}))  # fmt: skip
    assert read_lm_eval(d)["task"].tolist() == ["arc"]  # a null metric: the task is left out


def test_lm_eval_huge_step_and_deep_nesting_are_one_line(tmp_path, capsys):
    d = _lm_eval(tmp_path, f"step{10**200}.json", {"arc": {"acc": 0.5}})
    with pytest.raises(ConfigError, match="2\\*\\*53") as e:
        read_lm_eval(d)
    assert "step 100000...(201 digits)" in str(e.value)
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "step1.json").write_text("[" * 100_000 + "]" * 100_000)
    assert main(["emergence", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err


def test_curves_from_a_store_are_not_range_checked(tiny_run):
    # a run's own rows (log-probabilities among them) are not imported values
    out, _, _ = tiny_run
    assert len(load_curves(out, metric="logprob")) > 0
