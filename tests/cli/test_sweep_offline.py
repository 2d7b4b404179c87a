"""``sweep --dry-run --model REPO`` without the network: one line saying so, exit 2 (the code
``docs/checkpoints.md`` documents), at once, and nothing written."""

import socket
import time

import pytest

from curriculens.cli.main import main


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A Hugging Face cache that holds nothing."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    return tmp_path


def _dry_run(out, capsys):
    t0 = time.perf_counter()
    rc = main(["sweep", "--dry-run", "--model", "EleutherAI/pythia-70m", "-o", str(out)])
    err = capsys.readouterr().err
    return rc, err, time.perf_counter() - t0


def test_offline_says_the_model_is_not_cached(empty_cache, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = empty_cache / "run"
    rc, err, _ = _dry_run(out, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not in the local Hugging Face cache" in err and "HF_HUB_OFFLINE" in err
    assert "hf download EleutherAI/pythia-70m" in err
    assert not out.exists()


def test_an_unreachable_hub_is_named_at_once(empty_cache, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def refused(*args, **kw):
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", refused)
    out = empty_cache / "run"
    rc, err, seconds = _dry_run(out, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Cannot reach the Hugging Face Hub" in err and "not cached" in err
    assert not out.exists() and seconds < 30  # no retries for tens of seconds
