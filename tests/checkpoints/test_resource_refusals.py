"""Refuse before the work (issue 29, item 7): a named pipe in place of the weights and a
state-dict checkpoint whose config implies a huge model are refused in seconds, without
reading the pipe or allocating the model."""

from __future__ import annotations

import json
import os
import resource
import threading
import time

import pytest

from curriculens.checkpoints import CheckpointSeries
from curriculens.errors import CheckpointError


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_for_the_weights_is_refused_not_read(hf_dir, tmp_path):
    root = hf_dir(tmp_path / "ck", seeds=(0,))
    weights = root / "step0" / "model.safetensors"
    weights.unlink()
    os.mkfifo(weights)
    result: list = []

    def build():
        try:
            CheckpointSeries.from_dir(root, tokens_per_step=64)
            result.append("read")
        except CheckpointError as e:
            result.append(str(e))

    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the open() so the thread can end, then fail
        with open(weights, "wb"):
            pass
        pytest.fail("reading the series blocked on the named pipe")
    assert "not a regular file" in result[0], result


def _huge(config_json) -> None:
    cfg = json.loads(config_json.read_text())
    # about 200 GB of float32 parameters
    cfg.update(hidden_size=16384, intermediate_size=65536, num_hidden_layers=48,
               num_attention_heads=128)  # fmt: skip
    config_json.write_text(json.dumps(cfg))


def _refused_fast_and_small(series, needle: str) -> str:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(CheckpointError, match=needle) as e:
        series[0].load()
    grown_gib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20
    assert grown_gib < 1, grown_gib
    return str(e.value)


def test_a_huge_config_beside_a_state_dict_is_refused_before_allocating(state_dict_dir,
                                                                          tmp_path):  # fmt: skip
    root = state_dict_dir(tmp_path / "sd", names=("step1.safetensors",))
    _huge(root / "config.json")
    series = CheckpointSeries.from_dir(root, tokens_per_step=64)
    _refused_fast_and_small(series, "describes a model of|does not match config.json")


def test_a_huge_config_of_a_save_pretrained_folder_is_refused_unallocated(hf_dir, tmp_path):
    # transformers would allocate the config's model and fill the missing weights at random
    root = hf_dir(tmp_path / "ck", seeds=(0,))
    _huge(root / "step0" / "config.json")
    series = CheckpointSeries.from_dir(root, tokens_per_step=64)
    msg = _refused_fast_and_small(series, "describes a model of")
    assert "GB of memory available" in msg and "nothing was allocated" in msg


def test_the_memory_check_compares_the_configs_size_with_what_is_free(hf_dir, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    import psutil

    series = CheckpointSeries.from_dir(hf_dir(tmp_path / "ck", seeds=(0,)), tokens_per_step=64)
    series[0].load()  # a small model fits
    free = psutil.virtual_memory()._replace(available=1000)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: free)
    _refused_fast_and_small(series, "more than the 0.0 GB of memory available")


def test_weights_rewritten_in_place_with_the_same_size_and_mtime_are_noticed(hf_dir, tmp_path):
    # issue 29, item 9: such a checkpoint was never measured again
    a = hf_dir(tmp_path / "a", seeds=(0,)) / "step0"
    b = hf_dir(tmp_path / "b", seeds=(1,)) / "step0"
    weights = a / "model.safetensors"
    assert weights.stat().st_size == (b / "model.safetensors").stat().st_size
    series = CheckpointSeries.from_dir(a.parent, tokens_per_step=64)
    before = series[0].file_signature()
    st = weights.stat()
    time.sleep(0.01)
    weights.write_bytes((b / "model.safetensors").read_bytes())  # same size, other weights
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old modification time
    assert weights.stat().st_mtime_ns == st.st_mtime_ns
    assert series[0].file_signature() != before


def test_other_bytes_under_the_same_stat_are_noticed(hf_dir, tmp_path, monkeypatch):
    # a filesystem whose ctime and inode say nothing (some network mounts): the bytes at the
    # ends of the file still change the signature
    a = hf_dir(tmp_path / "a", seeds=(0,)) / "step0"
    b = hf_dir(tmp_path / "b", seeds=(1,)) / "step0"
    weights = a / "model.safetensors"
    series = CheckpointSeries.from_dir(a.parent, tokens_per_step=64)
    frozen = {p: p.stat() for p in (weights, a / "config.json")}
    real = type(weights).stat
    monkeypatch.setattr(type(weights), "stat",
                        lambda self, **k: frozen.get(self) or real(self, **k))  # fmt: skip
    before = series[0].file_signature()
    weights.write_bytes((b / "model.safetensors").read_bytes())  # same size, other weights
    assert weights.stat() == frozen[weights]
    assert series[0].file_signature() != before
