"""Hooks on blocks the series' models do not have are refused at plan time, before anything
loads or is written: by the dry run, the sweep and the command line alike."""

from __future__ import annotations

import pytest

from curriculens.cli.main import main
from curriculens.errors import ConfigError
from curriculens.pipeline.config import SweepConfig
from curriculens.pipeline.plan import check_hooks_fit, dry_run_text
from curriculens.pipeline.run import sweep


@pytest.fixture(scope="module")
def two_block_series(tmp_path_factory, write_series):
    return write_series(tmp_path_factory.mktemp("series"), seeds=(0, 1))


def test_layers_past_the_depth_fail_the_dry_run(two_block_series, tmp_path):
    from curriculens.checkpoints import CheckpointSeries

    series = CheckpointSeries.from_dir(two_block_series)
    config = SweepConfig(skills=("agreement",), layers="0-11", n_examples=40)
    with pytest.raises(ConfigError, match=r"--layers.*block\(s\) 2-11.*have 2 blocks \(0-1"):
        dry_run_text(series, config, tmp_path / "run")
    with pytest.raises(ConfigError, match="--hooks"):
        sweep(series, tmp_path / "run", config=config, progress=False)
    assert not (tmp_path / "run").exists()
    check_hooks_fit(series, SweepConfig(skills=("agreement",), layers="0-1"))  # fits: no error
    check_hooks_fit(series, SweepConfig(skills=("agreement",), hooks=("hook_embed",)))


@pytest.mark.parametrize(
    "flags", [["--layers", "0-11"], ["--hooks", "blocks.5.hook_resid_mid"]], ids=["layers", "hooks"]
)
def test_the_command_exits_2_naming_the_flag_and_writes_nothing(
    two_block_series, tmp_path, capsys, flags
):
    out = tmp_path / "run"
    for dry in (["--dry-run"], []):
        argv = ["sweep", str(two_block_series), "--skills", "agreement", *flags, "--out", str(out)]
        assert main([*argv, *dry]) == 2
        err = capsys.readouterr().err
        assert "--layers" in err and "2 blocks (0-1" in err and "Traceback" not in err
        assert not out.exists()
