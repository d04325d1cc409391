"""Stable content hashes of JSON-like values (key order does not matter)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(value: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``value``, hex, truncated to ``length``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
