"""A folder of small text files, on the local disk or on any Hadoop file system Spark reaches (``hdfs://``):
where a sink keeps state that must outlive the driver, next to the Spark checkpoint (in a cluster that is HDFS,
which Python cannot open without libhdfs, so the driver's JVM does the I/O)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class SmallFiles(Protocol):
    def names(self) -> list[str]: ...
    def read(self, name: str) -> str: ...
    def write(self, name: str, text: str) -> None: ...
    def delete(self, name: str) -> None: ...


def is_uri(location: str | Path) -> bool:
    return "://" in str(location)


class LocalFiles:
    """A local folder; writes are atomic (a temporary file renamed over the target)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return [p.name for p in self.folder.iterdir() if not p.name.startswith(".")]

    def read(self, name: str) -> str:
        return (self.folder / name).read_text()

    def write(self, name: str, text: str) -> None:
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.folder / name)

    def delete(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)


class HadoopFiles:
    """A folder given by URI (``hdfs://``, ``file://``, ...) through the Hadoop FileSystem API of the Spark
    driver's JVM. A write goes to a temporary file first, then replaces the target (delete + rename)."""

    def __init__(self, spark, uri: str) -> None:
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self._io = jvm.org.apache.commons.io.IOUtils
        self.root = self._Path(uri)
        self.fs = self.root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self.fs.mkdirs(self.root)

    def _p(self, name: str):
        return self._Path(self.root, name)

    def names(self) -> list[str]:
        return [s.getPath().getName() for s in self.fs.listStatus(self.root)
                if not s.getPath().getName().startswith(".")]

    def read(self, name: str) -> str:
        stream = self.fs.open(self._p(name))
        try:
            return self._io.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write(self, name: str, text: str) -> None:
        tmp = self._p(f".{name}.tmp")
        out = self.fs.create(tmp, True)
        try:
            out.write(bytearray(text.encode()))
        finally:
            out.close()
        self.fs.delete(self._p(name), False)
        if not self.fs.rename(tmp, self._p(name)):
            raise OSError(f"could not rename {tmp} to {self._p(name)}")

    def delete(self, name: str) -> None:
        self.fs.delete(self._p(name), False)
