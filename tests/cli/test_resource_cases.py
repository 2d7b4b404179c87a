"""Refuse before the work (issue 29, item 7): the four requests that grew to gigabytes or hung are
each refused by ``curriculens sweep`` in one line, exit 2, under 1 GB of peak memory for the
whole process (measured in a child process, as a user runs the command), and before any
checkpoint is loaded: that is what "at once" means here. The command's time is in the child's
stats, printed when a check fails, but not asserted (no timing asserts in tests).

- ``--examples 100000000`` (grew past 15 GB in 9 minutes);
- a prompt longer than the model's context (a 20 MB one took 228 s and 16 GB), refused from the
  config and tokenizer alone;
- a ``config.json`` implying a 200 GB model (it was allocated);
- a named pipe in place of ``model.safetensors`` (the sweep hung).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Runs the CLI in a child and reports its exit code, the command's time (torch and
#: transformers imported first: on a busy machine their import alone varies by seconds) and the
#: child's peak resident memory, imports included.
PROBE = """
import json, resource, sys, time
import torch, transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
t0 = time.perf_counter()
from curriculens.checkpoints import Checkpoint
def no_load(self, **kw):
    raise SystemExit("a checkpoint was loaded before the refusal")
if sys.argv.pop(1) == "no-load":
    Checkpoint.load = no_load
from curriculens.cli.main import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}),
      file=sys.stderr)
"""


def _refused(argv: list, *needles: str, load: bool = False) -> str:
    """The one error line of ``curriculens ARGV``, checked against the needles and the bounds;
    no checkpoint may load unless ``load``."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS="1")  # fmt: skip
    cmd = [sys.executable, "-c", PROBE, "load" if load else "no-load", *map(str, argv)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    stats = json.loads(done.stderr.strip().splitlines()[-1])
    lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
    assert stats["rc"] == 2 and len(lines) == 1, done.stderr[-3000:]
    for n in needles:  # a skill file's problems follow its error line, one a line
        assert n in done.stderr, (n, done.stderr[-2000:])
    assert stats["peak_gib"] < 1, stats
    return lines[0]


def _sweep(series, out, *more) -> list:
    return ["sweep", series, "--out", out, "--quiet", *more]


@pytest.fixture
def one_checkpoint(toy_series, tmp_path) -> Path:
    """A copy of the toy series' first checkpoint, in its own series folder."""
    root = tmp_path / "checkpoints"
    shutil.copytree(toy_series / "step0", root / "step0")
    return root


def test_a_hundred_million_examples(toy_series, tmp_path):
    for dry in ([], ["--dry-run"]):
        _refused(_sweep(toy_series, tmp_path / "run", "--skills", "add2", "--examples",
                        "100000000", *dry), "would hold", "Lower --examples")  # fmt: skip
    assert not (tmp_path / "run" / "results.sqlite").exists()


def _long_prompt_skill(path: Path, words: int, n: int = 20) -> Path:
    """A skill file of ``n`` examples whose first prompt repeats "the cat sat" ``words`` times."""
    head = {"name": "long_prompt", "version": 1, "format": "continuation",
            "label_names": ["a", "b"]}  # fmt: skip
    lines = [json.dumps({"curriculens_skill": head})]
    for i in range(n):
        prompt = ("the cat sat " * words if i == 0 else "the cat sat ") + f"number {i}"
        lines.append(json.dumps({"prompt": prompt, "target": "down", "label": "ab"[i % 2]}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_prompt_longer_than_the_context_is_refused_before_loading(one_checkpoint, tmp_path):
    skill = _long_prompt_skill(tmp_path / "long.jsonl", 300)  # 900 words; the context is 128
    for dry in ([], ["--dry-run"]):
        _refused(_sweep(one_checkpoint, tmp_path / "run", "--skills", skill, "--examples", "20",
                        *dry), "long_prompt", "longer than the model's context of 128")  # fmt: skip
    assert not (tmp_path / "run" / "results.sqlite").exists()


def test_a_20_mb_prompt(one_checkpoint, tmp_path):
    skill = _long_prompt_skill(tmp_path / "huge.jsonl", 1_750_000)  # 21 MB
    assert skill.stat().st_size > 20e6
    _refused(_sweep(one_checkpoint, tmp_path / "run", "--skills", skill), "more than any model's")


def test_a_config_implying_200_gb(one_checkpoint, tmp_path):
    cfg_path = one_checkpoint / "step0" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(hidden_size=16384, intermediate_size=65536, num_hidden_layers=48,
               num_attention_heads=128)  # fmt: skip
    cfg_path.write_text(json.dumps(cfg))
    # the load compares the size the config implies with the free memory, before allocating
    _refused(_sweep(one_checkpoint, tmp_path / "run", "--skills", "add1", "--examples", "20"),
             "describes a model of", "nothing was allocated", load=True)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_for_the_weights(one_checkpoint, tmp_path):
    weights = one_checkpoint / "step0" / "model.safetensors"
    weights.unlink()
    os.mkfifo(weights)
    _refused(_sweep(one_checkpoint, tmp_path / "run", "--skills", "add1"), "not a regular file")
