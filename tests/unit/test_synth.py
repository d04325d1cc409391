"""``sensorcast synth`` (a larger network derived from a real one) and the neighbour search it needs at scale.

Copies keep the real gaps and faulty readings, sit at offset locations with their own copy as neighbours, stay
close to the real values, and are deterministic; the long CSV reads back as the in-memory network.
"""

import numpy as np
import pytest

from sensorcast import config, synth
from sensorcast.io import csvfiles, datasets
from sensorcast.io.locations import distance_matrix, nearest_planar, neighbours, read_locations

COPIES = 3


@pytest.fixture(scope="module")
def src(keti):
    return synth.window(keti, 0.25)


@pytest.fixture(scope="module")
def spec():
    return synth.SynthSpec("keti", COPIES, days=0.25, seed=7)


@pytest.fixture(scope="module")
def big(src, spec):
    return synth.synth_panel(src, spec)


def _copy(panel, c, n_s):
    return panel.values[:, c * n_s:(c + 1) * n_s]


def test_window_is_whole_days_from_the_first_midnight(keti, src):
    assert str(src.times[0]) == "2013-08-24T00:00:00.000"
    assert src.times[-1] < np.datetime64("2013-08-24T06:00")
    assert len(synth.window(keti, None).times) == len(keti.times)


def test_copies_keep_gaps_and_faults_and_stay_close(src, spec, big):
    n_s = len(src.sensors)
    assert big.values.shape == (len(src.times), COPIES * n_s, len(src.measures))
    lo, hi = synth.hard_ranges(src.measures, config.DEFAULTS["detection"]["ranges"])
    shifts = set()
    for c in range(COPIES):
        vals, shift = synth.derive_copy(src.values, c, spec, lo, hi)
        shifts.add(shift)
        np.testing.assert_array_equal(vals, _copy(big, c, n_s))
        assert np.isnan(vals[:shift]).all()
        real = src.values[: len(src.times) - shift]
        got = vals[shift:]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(real))  # the real gaps, shifted
        with np.errstate(invalid="ignore"):
            faulty = np.isfinite(real) & ((real < lo) | (real > hi))
            good = np.isfinite(real) & ~faulty
            assert faulty.any()  # KETI has real faulty readings in this window
            np.testing.assert_array_equal(got[faulty], real[faulty])  # copied unchanged
            assert ((got[good] >= np.broadcast_to(lo, got.shape)[good])
                    & (got[good] <= np.broadcast_to(hi, got.shape)[good])).all()
        rel = np.abs(got[good] - real[good]) / np.maximum(np.abs(real[good]), 1e-12)
        assert rel.max() <= 3 * spec.noise + 1e-12
        assert 0 < np.median(rel) < spec.noise
        assert (got[good] == 0).sum() == (real[good] == 0).sum()  # zeros stay zeros
    assert shifts <= set(range(spec.max_shift + 1))


def test_locations_are_offset_and_neighbours_stay_in_the_copy(src, big):
    n_s = len(src.sensors)
    pts = np.array([big.locations[s] for s in big.sensors])
    real = np.array([src.locations[s] for s in src.sensors])
    for c in range(COPIES):
        off = pts[c * n_s:(c + 1) * n_s] - real
        assert np.allclose(off, off[0])  # one offset per copy
        assert c == 0 or np.abs(off[0]).max() > np.ptp(real, axis=0).max()  # farther than the layout's extent
    nb_real = neighbours(src, 4)[0]
    nb = neighbours(big, 4)[0]
    for c in range(COPIES):
        np.testing.assert_array_equal(nb[c * n_s:(c + 1) * n_s], nb_real + c * n_s)


def test_deterministic_and_independent_of_the_number_of_copies(src, spec, big):
    again = synth.synth_panel(src, spec)
    np.testing.assert_array_equal(again.values, big.values)
    two = synth.synth_panel(src, synth.SynthSpec("keti", 2, days=0.25, seed=7))
    np.testing.assert_array_equal(two.values, big.values[:, : two.values.shape[1]])
    other = synth.synth_panel(src, synth.SynthSpec("keti", COPIES, days=0.25, seed=8))
    assert not np.array_equal(np.nan_to_num(other.values), np.nan_to_num(big.values))


def test_written_files_read_back_as_the_network(tmp_path, src):
    spec = synth.SynthSpec("keti", COPIES, days=0.25, seed=7, measures=("temperature", "co2"))
    res = synth.write(spec, tmp_path / "a")
    synth.write(spec, tmp_path / "b")
    for name in ("readings.csv", "locations.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    big = synth.synth_panel(src.select(measures=["temperature", "co2"]), spec)
    readme = (tmp_path / "a" / "README.md").read_text()
    assert readme.replace(str(tmp_path / "a"), "OUT") == (tmp_path / "b" / "README.md").read_text().replace(
        str(tmp_path / "b"), "OUT")
    assert "Derived" in readme and "keti-sdh-1min" in readme and "--copies 3" in readme
    assert datasets.detect_format(tmp_path / "a" / "readings.csv") == "long-csv"
    back = csvfiles.read_long(tmp_path / "a" / "readings.csv")
    locs, geo = read_locations(tmp_path / "a" / "locations.csv")
    assert not geo and set(back.sensors) <= set(locs) == set(big.sensors)  # a sensor without readings: no rows
    assert back.rows == res["readings"]
    want = big.select(measures=back.measures, sensors=back.sensors)
    skip = len(want.times) - len(back.times)  # leading steps where every copy is still shifted out
    assert 0 <= skip <= spec.max_shift and np.isnan(want.values[:skip]).all()
    np.testing.assert_array_equal(back.times, want.times[skip:])
    np.testing.assert_allclose(back.values, want.values[skip:], rtol=1e-6)
    for s in back.sensors[::17]:
        assert locs[s] == pytest.approx(big.locations[s], abs=1e-6)


@pytest.mark.parametrize("source", ["aqi36", "intel-extract"])
def test_other_sources(source):
    spec = synth.SynthSpec(source, 2, days=1.0)
    panel = synth.source_panel(spec)
    big = synth.synth_panel(panel, spec)
    assert len(big.sensors) == 2 * len(panel.sensors) and not big.geo
    nb = neighbours(big, 3)[0]
    n_s = len(panel.sensors)
    assert (nb // n_s == np.arange(2 * n_s)[:, None] // n_s).all()  # neighbours within the copy


def test_bad_specs():
    with pytest.raises(ValueError, match="--from"):
        synth.SynthSpec("intel-raw", 2)
    with pytest.raises(ValueError, match="--copies"):
        synth.SynthSpec("keti", 0)


@pytest.mark.parametrize(("n", "k", "grid"), [(2500, 1, True), (2500, 4, True), (3000, 8, False), (800, 16, True)])
def test_cell_search_is_the_stable_argsort_of_all_distances(n, k, grid):
    rng = np.random.default_rng(n + k)
    pts = rng.integers(0, 30, (n, 2)).astype(float) if grid else rng.random((n, 2)) * 100  # grid: many ties
    pts[:, 1] *= 2.5
    d = distance_matrix(pts, False)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(nearest_planar(pts, k), np.argsort(d, axis=1, kind="stable")[:, :k])
