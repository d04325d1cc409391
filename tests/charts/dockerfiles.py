"""Reading images/*/Dockerfile: instructions (continuations joined, comments dropped), LABELs, and which
repository:tag each Dockerfile builds (its org.opencontainers.image.title and .version labels)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.charts import helmtool

IMAGES = helmtool.ROOT / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(ln for ln in dockerfile.read_text().splitlines()
                                          if not ln.lstrip().startswith("#")))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln.strip() else "")
            for ln in text.splitlines() if ln.strip()]


def labels(dockerfile: Path) -> dict[str, str]:
    found = {}
    for op, args in instructions(dockerfile):
        if op == "LABEL":
            found.update(re.findall(r'([\w.-]+)="([^"]*)"', args))
    return found


def built_images() -> dict[str, Path]:
    """repository:tag -> the Dockerfile that builds it."""
    out = {}
    for df in DOCKERFILES:
        lab = labels(df)
        out[f"{lab['org.opencontainers.image.title']}:{lab['org.opencontainers.image.version']}"] = df
    return out
