"""``sweep --dry-run --model REPO`` without the network: one line saying so, exit 2 (the code
``docs/checkpoints.md`` documents), after one connection attempt, and nothing written."""

import socket

import pytest

from curriculens.cli.main import main


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A Hugging Face cache that holds nothing."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    return tmp_path


def _dry_run(out, capsys):
    rc = main(["sweep", "--dry-run", "--model", "EleutherAI/pythia-70m", "-o", str(out)])
    return rc, capsys.readouterr().err


def test_offline_says_the_model_is_not_cached(empty_cache, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = empty_cache / "run"
    rc, err = _dry_run(out, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not in the local Hugging Face cache" in err and "HF_HUB_OFFLINE" in err
    assert "hf download EleutherAI/pythia-70m" in err
    assert not out.exists()


def test_an_unreachable_hub_is_named_at_once(empty_cache, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    attempts = []

    def refused(*args, **kw):
        attempts.append(args[:1])
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", refused)
    out = empty_cache / "run"
    rc, err = _dry_run(out, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Cannot reach the Hugging Face Hub" in err and "not cached" in err
    assert not out.exists()
    assert len(attempts) == 1  # one try, named at once: no retry loop (counted, not timed)
