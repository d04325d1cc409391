"""Readers on real lines and nasty input: bad lines are counted with their line numbers, never fatal."""

import gzip

import numpy as np
import pytest

from sensorcast.io import aqi36, csvfiles, datasets, intel, keti
from sensorcast.io.locations import neighbours, read_locations
from sensorcast.io.panel import BadLines

REAL = [
    "2004-02-28 00:59:16.02785 3 1 19.9884 37.0933 45.08 2.69964",
    "2004-03-31 03:38:15.757551 2 1 122.153 -3.91901 11.04 2.03397",
]


def test_intel_raw_real_lines():
    rec = intel.parse_raw_line(REAL[0])
    ts, epoch, mote, vals = rec
    assert (str(ts), epoch, mote) == ("2004-02-28T00:59:16.027", 3, "1")
    assert vals == [19.9884, 37.0933, 45.08, 2.69964]
    assert intel.parse_raw_line(REAL[1])[3][0] == 122.153  # dying-battery garbage is a reading


def test_intel_raw_nasty_lines_are_counted_not_fatal():
    lines = [
        REAL[0],
        "2004-03-01 09:20:51.09876 16224 29",          # missing fields
        "2004-03-01 09:20:51.09876 16224 58 20.1 30.2 1.0 2.6",  # mote id outside 1..54
        "2004-03-01 09:20:51.09876 16224 0 20.1 30.2 1.0 2.6",   # mote 0
        "2004-02-28 00:59:16.02785 3 1 19.9 37.0 45.0 2.7",      # duplicate (mote 1, epoch 3)
        "2004-02-28 01:00:16.1 5 2 abc 1 2 3",                    # non-numeric
        "garbage",
        "",
        "2004-02-28 00:58:46.002832 2 1 19.9884 37.0933 45.08 2.69964",  # earlier epoch, later in file
        "2004-02-28 01:03:16.33393 11 1 19.3024 38.4629 45.08",  # voltage missing: partial reading
        REAL[1],
    ]
    panel = intel.read_raw(lines)
    bad = panel.bad.summary()
    assert bad == {"missing fields": 2, "unknown sensor": 2, "non-numeric value": 1,
                   "duplicate": 8}  # 4 measures each of (mote 1, epoch 3) and (mote 1, epoch 2)
    assert list(panel.epochs) == [2, 3, 11]  # time steps are epochs, whatever the file order
    assert panel.sensors == ["1"]
    s1 = panel.sensors.index("1")
    assert panel.values[list(panel.epochs).index(3), s1, 0] == 19.9884  # first of the duplicates kept
    assert np.isnan(panel.values[list(panel.epochs).index(11), s1, 3])  # missing voltage stays missing
    assert {b.line_no for b in panel.bad.samples if b.reason == "unknown sensor"} == {3, 4}


def test_intel_raw_gz_file(tmp_path):
    path = tmp_path / "data.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(REAL) + "\n")
    panel = intel.read_raw_file(path)
    assert panel.values.shape == (2, 1, 4) and panel.rows == 8


def test_long_csv_with_offsets_and_bad_lines(tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(
        "timestamp,sensor,measure,value\n"
        "2024-01-01T00:00:00Z,a,temperature,20.5\n"
        "2024-01-01T01:00:00+01:00,b,temperature,21.5\n"   # same instant as the line above
        "2024-01-01T00:01:00,a,temperature,nope\n"
        "not-a-time,a,temperature,1\n"
        "2024-01-01T00:01:00,a,temperature\n"
        "2024-01-01T00:01:00,a,temperature,inf\n"
        "2024-01-01T00:01:00,a,humidity,40\n")
    panel = csvfiles.read_long(path)
    assert len(panel.times) == 2 and panel.sensors == ["a", "b"]
    assert panel.values[0, 1, panel.measures.index("temperature")] == 21.5
    assert panel.bad.summary() == {"bad timestamp": 1, "missing fields": 1, "non-numeric value": 2}
    assert {b.line_no for b in panel.bad.samples} == {4, 5, 6, 7}


def test_wide_csv_detected_and_read(tmp_path):
    path = tmp_path / "pm25.csv"
    path.write_text("datetime,s1,s2\n2024/01/01 00:00:00,10,\n2024/01/01 01:00:00,x,12\n2024/01/01 02:00:00,1\n")
    assert datasets.detect_format(path) == "wide-csv"
    panel = datasets.load(str(path))
    assert panel.measures == ["pm25"] and panel.values.shape == (2, 2, 1)
    assert np.isnan(panel.values[0, 1, 0]) and np.isnan(panel.values[1, 0, 0])
    assert panel.bad.summary() == {"non-numeric value": 1, "wrong field count": 1}


def test_keti_folder_full_and_gz(keti):
    assert len(keti.sensors) == 45 and keti.measures == list(keti_measures())
    assert keti.rows == 479_007 * 5
    # 5.3 % of rooms × all minutes have no row; minutes where no room reported are not time steps
    assert 0.02 < np.isnan(keti.values[..., 0]).mean() < 0.04
    t = keti.measures.index("temperature")
    assert np.nanmax(keti.values[..., t]) > 390  # real faulty readings are kept for detection
    assert keti.locations["413"] == (13.0, 4 * keti_floor_gap())


def keti_measures():
    return keti.MEASURES


def keti_floor_gap():
    return keti.FLOOR_GAP


def test_keti_bad_cell_is_counted(tmp_path):
    (tmp_path / "101.csv").write_text("timestamp,co2,humidity,light,pir,temperature\n"
                                      "2013-08-24 00:00:00,400,40,10,0,22\n"
                                      "2013-08-24 00:01:00,oops,40,10,0,22\n"
                                      "bad,400,40,10,0,22\n")
    panel = keti.read_folder(tmp_path)
    assert panel.values.shape == (1, 1, 5)
    assert panel.bad.summary() == {"bad timestamp": 1, "non-numeric value": 1}


def test_aqi36_mask_and_locations():
    panel = datasets.load("aqi36")
    assert panel.values.shape == (8759, 36, 1) and panel.geo
    mask = aqi36.eval_mask(panel)
    assert mask.sum() > 10_000
    assert np.isnan(panel.values[mask]).all() and np.isfinite(panel.truth[mask]).all()
    months = panel.times.astype("datetime64[M]").astype(int) % 12 + 1
    assert set(np.unique(months[mask.any(axis=(1, 2))])) <= {3, 6, 9, 12}


def test_intel_extract_shape_and_holdout_days(extract):
    assert extract.values.shape == (240, 50, 2) and not np.isnan(extract.values).any()
    assert extract.holdout_days == ["2004-03-04", "2004-03-05"]


def test_locations_files(tmp_path):
    locs, geo = read_locations(datasets.data_dir() / "intel-lab" / "mote_locs.txt")
    assert len(locs) == 54 and not geo and locs["1"] == (21.5, 23.0)
    p = tmp_path / "l.csv"
    p.write_text("sensor,lon,lat\na,116.0,40.0\n")
    assert read_locations(p) == ({"a": (40.0, 116.0)}, True)
    p.write_text("sensor,x,y\na,1,oops\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_locations(p)


def test_neighbours_distance_and_correlation(extract):
    nb = neighbours(extract, 3, "correlation")
    assert nb.shape == (2, 50, 3) and not (nb == np.arange(50)[None, :, None]).any()
    with pytest.raises(ValueError, match="no locations"):
        neighbours(extract, 3, "distance")
    with pytest.raises(ValueError, match="at most 49"):
        neighbours(extract, 50)


def test_badlines_keeps_counting_past_the_samples():
    bad = BadLines(keep=2)
    for i in range(5):
        bad.add(i, "x", "line")
    assert bad.total == 5 and len(bad.samples) == 2


def test_long_csv_nasty_lines_are_counted_not_guessed(tmp_path):
    """An empty timestamp, an unknown zone name and a stray quote are bad lines; the lines after them are read."""
    from sensorcast.io.csvfiles import read_long

    path = tmp_path / "nasty.csv"
    path.write_text("\ufefftimestamp,sensor,measure,value\n"  # a BOM, as spreadsheet exports write
                    "2024-01-01T00:00:00Z,s1,temperature,20\n"
                    ",s1,temperature,3\n"
                    "2024-01-01T00:01:00 XYZ,s1,temperature,3\n"
                    '2024-01-01T00:01:00Z,"s2,temperature,21\n'
                    "2024-01-01T00:01:00Z,s1,temperature,20.5\n"
                    "\n"
                    "2024-01-01T00:02:00Z,s1,temperature,21\n")
    p = read_long(path)
    assert [str(t) for t in p.times] == ["2024-01-01T00:00:00.000", "2024-01-01T00:01:00.000",
                                         "2024-01-01T00:02:00.000"]
    assert dict(p.bad.counts) == {"bad timestamp": 2, "malformed line": 1}
    assert [b.line_no for b in p.bad.samples] == [3, 4, 5]
    assert p.values[:, 0, 0].tolist() == [20.0, 20.5, 21.0]


def test_empty_files_fail_with_the_file_name(tmp_path):
    from sensorcast.io.csvfiles import read_long, read_wide

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: long CSV needs the header"):
        read_long(empty)
    header_only = tmp_path / "temperature.csv"
    header_only.write_text("timestamp,s1,s2\n")
    with pytest.raises(ValueError, match="temperature.csv: no valid row"):
        read_wide({"temperature": header_only}, "w")
