"""Name or path → Panel: the bundled data sets by name, any supported file or folder by path."""

from __future__ import annotations

import os
from pathlib import Path

from . import aqi36, csvfiles, intel, keti
from .locations import read_locations
from .panel import Panel

BUNDLED = {
    "keti": "keti-sdh-1min",
    "aqi36": "beijing-aqi36-pm25",
    "intel-extract": "intel-lab-50sensor-30min",
    "intel-raw": "intel-lab/data.txt.gz",
}
FORMATS = ("keti", "aqi36", "intel-extract", "intel-raw", "long-csv", "wide-csv")


def data_dir() -> Path:
    """The data folder: ``$SENSORCAST_DATA`` or the repository's ``data/``."""
    env = os.environ.get("SENSORCAST_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "data"


def detect_format(path: Path) -> str:
    """Guess a path's input format from its name and, for CSV, its header."""
    if path.is_dir():
        if (path / "pm25_missing.txt").exists():
            return "aqi36"
        if (path / "intelTemperatureTrain.csv").exists():
            return "intel-extract"
        if any(p.name.endswith((".csv", ".csv.gz")) for p in path.iterdir()):
            return "keti"
        raise ValueError(f"{path}: a folder with no known data set layout")
    if path.name.endswith((".txt", ".txt.gz")):
        return "intel-raw"
    if path.suffix == ".csv":
        with open(path) as fh:
            head = fh.readline().strip().lower().replace(" ", "")
        return "long-csv" if head.startswith("timestamp,sensor,measure,value") else "wide-csv"
    raise ValueError(f"{path}: cannot tell the format; give --format one of {', '.join(FORMATS)}")


def load(dataset: str, fmt: str | None = None, locations: str | None = None,
         measure: str | None = None) -> Panel:
    """Load a bundled data set by name (keti, aqi36, intel-extract, intel-raw) or a file/folder path."""
    if dataset in BUNDLED:
        path = data_dir() / BUNDLED[dataset]
        fmt = fmt or dataset
        if not path.exists():
            hint = " (run `make data-intel` where the internet is reachable)" if dataset == "intel-raw" else ""
            raise FileNotFoundError(f"data set {dataset!r} not found at {path}{hint}")
    else:
        path = Path(dataset)
        if not path.exists():
            raise FileNotFoundError(f"dataset {dataset!r}: neither a bundled name ({', '.join(BUNDLED)}) "
                                    "nor an existing path")
        fmt = fmt or detect_format(path)
    if fmt == "keti":
        panel = keti.read_folder(path)
    elif fmt == "aqi36":
        panel = aqi36.read_folder(path)
    elif fmt == "intel-extract":
        panel = intel.read_extract(path)
    elif fmt == "intel-raw":
        panel = intel.read_raw_file(path)
        panel.locations, panel.geo = read_locations(data_dir() / "intel-lab" / "mote_locs.txt")
    elif fmt == "long-csv":
        panel = csvfiles.read_long(path)
    elif fmt == "wide-csv":
        panel = csvfiles.read_wide({measure or path.stem: path}, name=path.stem)
    else:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if locations:
        panel.locations, panel.geo = read_locations(locations)
    return panel
