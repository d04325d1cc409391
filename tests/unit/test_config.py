"""Bad configuration fails at start with a message naming the key."""

import pytest

from sensorcast import config
from sensorcast.config import ConfigError


def test_defaults_validate_and_set_overrides():
    cfg = config.load(sets=["ar-rls.order=5", "detection.z=4", "spatial-rls.forgetting=0.99"])
    assert cfg["models"]["ar-rls"]["order"] == 5
    assert cfg["detection"]["z"] == 4.0 and cfg["models"]["spatial-rls"]["forgetting"] == 0.99


@pytest.mark.parametrize("sets,key", [
    (["ar-rls.oder=5"], "models.ar-rls.oder"),
    (["ar-rls.order=five"], "models.ar-rls.order"),
    (["detection.zz=1"], "detection.zz"),
    (["detection.ranges.temperature=[5, 1]"], "detection.ranges.temperature"),
    (["spark.shards=0"], "spark.shards"),
    (["replay.slice=week"], "replay.slice"),
    (["scales.pm25=-1"], "scales.pm25"),
    (["nonsense"], "KEY=VALUE"),
    (["spark.shardz=3"], "spark.shardz"),
    (["replay.slise=hour"], "replay.slise"),
    (["spark.shuffle_partitions=0"], "spark.shuffle_partitions"),
    (["detection=5"], "detection"),
    (["ar-rls=5"], "ar-rls"),
    (["detection.ranges.temperature=[low, high]"], "detection.ranges.temperature"),
])
def test_bad_values_name_the_key(sets, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        config.load(sets=sets)


def test_yaml_file_selects_models_and_rejects_unknown_keys(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("dataset: aqi36\nmodels:\n  persistence: {}\n  spatial-rls: {neighbours: 6}\n")
    cfg = config.load(good)
    assert list(cfg["models"]) == ["persistence", "spatial-rls"]
    assert cfg["models"]["spatial-rls"]["neighbours"] == 6
    assert cfg["models"]["spatial-rls"]["forgetting"] == config.DEFAULTS["models"]["spatial-rls"]["forgetting"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: aqi36\nmodles: {}\n")
    with pytest.raises(ConfigError, match="modles"):
        config.load(bad)
    bad.write_text("models:\n  kalman: {}\n")
    with pytest.raises(ConfigError, match="models.kalman"):
        config.load(bad)
    bad.write_text("models: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)


def test_models_flag_and_ensemble_needs_members():
    assert list(config.load(models=["ema", "persistence"])["models"]) == ["ema", "persistence"]
    with pytest.raises(ConfigError, match="--models"):
        config.load(models=["arima"])
    with pytest.raises(ConfigError, match="ensemble"):
        config.load(models=["ensemble"])
    with pytest.raises(ConfigError, match="not enabled"):
        config.load(models=["ema"], sets=["ar-rls.order=3"])


@pytest.mark.parametrize("text,key", [("replay: hour\n", "replay"), ("models: {ar-rls: 5}\n", "models.ar-rls"),
                                      ("scales: 5\n", "scales"), ("dataset: 5\n", "dataset")])
def test_wrong_shapes_in_a_file_name_the_key(tmp_path, text, key):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=key):
        config.load(path)
