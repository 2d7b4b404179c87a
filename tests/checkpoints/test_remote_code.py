"""Never prompt, never run a checkpoint's code (issue 29, item 6): a checkpoint whose config or
tokenizer names its own Python file (``auto_map``) is refused in one line by every path of
``sweep``, ``--dry-run`` included, with stdin attached and answering "y"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EVIL = """
from pathlib import Path
Path(MARKER).write_text("the checkpoint's code ran")
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, GPTNeoXTokenizerFast
class EvilConfig(GPTNeoXConfig):
    model_type = "evil_neox"
class EvilModel(GPTNeoXForCausalLM):
    config_class = EvilConfig
class EvilTokenizer(GPTNeoXTokenizerFast):
    pass
"""


def _evil_series(tiny_model_dir, root: Path, where: str) -> Path:
    ck = root / "checkpoints" / "step0"
    shutil.copytree(tiny_model_dir, ck)
    # transformers runs a copy of the file from its module cache: the marker path is absolute
    (ck / "evil.py").write_text(f"MARKER = {str(ck / 'RAN')!r}\n" + EVIL)
    (ck / "curriculens_checkpoint.json").write_text(json.dumps({"step": 0, "tokens": 0}))
    if where == "config":
        cfg = json.loads((ck / "config.json").read_text())
        # a model type transformers does not know: only the checkpoint's code could read it
        cfg["model_type"] = "evil_neox"
        cfg["auto_map"] = {
            "AutoConfig": "evil.EvilConfig",
            "AutoModelForCausalLM": "evil.EvilModel",
        }
        (ck / "config.json").write_text(json.dumps(cfg))
    else:
        tc = json.loads((ck / "tokenizer_config.json").read_text())
        tc["tokenizer_class"] = "EvilTokenizer"
        tc["auto_map"] = {"AutoTokenizer": [None, "evil.EvilTokenizer"]}
        (ck / "tokenizer_config.json").write_text(json.dumps(tc))
    return ck


@pytest.mark.parametrize("where", ["config", "tokenizer"])
@pytest.mark.parametrize("dry", [True, False])
def test_auto_map_is_refused_without_a_prompt(tiny_model_dir, tmp_path, where, dry):
    ck = _evil_series(tiny_model_dir, tmp_path, where)
    argv = [sys.executable, "-m", "curriculens", "sweep", str(ck.parent), "--out",
            str(tmp_path / "run"), "--skills", "facts", "--examples", "40"]  # fmt: skip
    if dry:
        argv.append("--dry-run")
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_MODULES_CACHE=str(tmp_path / "hf_modules"))  # fmt: skip
    done = subprocess.run(argv, input="y\ny\n", capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert not (ck / "RAN").exists(), "the checkpoint's Python file ran"
    assert "[y/N]" not in done.stdout + done.stderr, "it asked on stdin"
    assert "Traceback" not in done.stderr
    # transformers' own class may read it (exit 0); else one line that names the custom code
    if done.returncode != 0:
        assert done.returncode == 2, done.stderr
        lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
        assert len(lines) == 1 and ("own Python code" in lines[0] or "custom code" in lines[0])


def test_every_auto_class_call_says_whether_to_trust_remote_code():
    # transformers prompts on stdin when trust_remote_code is left unset and a config names code
    import re

    calls = re.compile(r"Auto\w+\.from_pretrained\(")
    unset = []
    for path in (REPO / "curriculens").rglob("*.py"):
        text = path.read_text()
        for m in calls.finditer(text):
            if text[max(0, m.start() - 2) : m.start()] == "``":  # named in a docstring
                continue
            depth, end = 0, m.end() - 1
            for end in range(m.end() - 1, len(text)):  # the call's closing parenthesis
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            if "trust_remote_code" not in text[m.start() : end]:
                unset.append(f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}")
    assert not unset, unset


def _cli(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_MODULES_CACHE=str(tmp_path / "hf_modules"))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "curriculens", *argv], input="y\ny\n",
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip


def test_without_the_flag_the_refusal_names_it(tiny_model_dir, tmp_path):
    ck = _evil_series(tiny_model_dir, tmp_path, "config")
    for dry in (["--dry-run"], []):
        done = _cli(["sweep", str(ck.parent), "--out", str(tmp_path / "run"), "--skills",
                     "facts", "--examples", "40", "--quiet", *dry], tmp_path)  # fmt: skip
        lines = [ln for ln in done.stderr.splitlines() if "error:" in ln]
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert "--trust-remote-code" in lines[0] and "auto_map" in lines[0], lines[0]
        assert not (ck / "RAN").exists()


@pytest.mark.parametrize("where", ["config", "tokenizer"])
def test_with_trust_remote_code_an_auto_map_checkpoint_loads(tiny_model_dir, tmp_path, where):
    ck = _evil_series(tiny_model_dir, tmp_path, where)
    if where == "config":  # transformers renames embed_out only for its own gpt_neox type
        from safetensors.torch import load_file, save_file

        state = load_file(ck / "model.safetensors")
        state = {k.replace("embed_out.", "lm_head."): v for k, v in state.items()}
        save_file(state, ck / "model.safetensors", metadata={"format": "pt"})
    out = tmp_path / "run"
    argv = ["sweep", str(ck.parent), "--out", str(out), "--skills", "facts", "--examples", "40",
            "--quiet", "--trust-remote-code"]  # fmt: skip
    done = _cli([*argv, "--dry-run"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[y/N]" not in done.stdout + done.stderr
    done = _cli(argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (ck / "RAN").exists(), "the checkpoint's own code was not used"
    assert (out / "results.sqlite").exists() and "sweep finished" in done.stdout
