"""``sensorcast run`` into a folder that holds an earlier run: a fresh start clears its checkpoint and outputs
(a re-run never reports the old results), ``--resume`` continues only a run of the same config."""

import pytest

from sensorcast import config, run
from sensorcast.config import ConfigError


def old_run(out, cfg):
    run.prepare_out(out, cfg, resume=False)
    for name in ("checkpoint/commits", "forecasts/batch_id=0", "opentsdb-state"):
        (out / name).mkdir(parents=True)
    (out / "report.html").write_text("old")


def test_fresh_start_clears_the_previous_run(tmp_path, capsys):
    cfg = config.load()
    old_run(tmp_path, cfg)
    run.prepare_out(tmp_path, config.load(sets=["ema.alpha=0.9"]), resume=False)
    assert not any((tmp_path / n).exists() for n in ("checkpoint", "forecasts", "opentsdb-state"))
    assert "alpha: 0.9" in (tmp_path / "config.yaml").read_text()
    assert "starting afresh" in capsys.readouterr().err


def test_resume_keeps_the_checkpoint_of_the_same_config_only(tmp_path):
    cfg = config.load()
    old_run(tmp_path, cfg)
    run.prepare_out(tmp_path, config.load(), resume=True)
    assert (tmp_path / "checkpoint" / "commits").is_dir() and (tmp_path / "forecasts").is_dir()
    with pytest.raises(ConfigError, match="another config"):
        run.prepare_out(tmp_path, config.load(sets=["ema.alpha=0.9"]), resume=True)


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        run.prepare_out(f, config.load(), resume=False)
