"""The dashboards as code seen as Grafana sees them: charts/grafana's dashboards and OpenTSDB datasource, their
panels and targets, and a target turned into the ``/api/query`` sub-query Grafana sends (template variables
substituted as Grafana's OpenTSDB data source does: multi-values joined by ``|``), and a ``tag_values(...)``
variable query turned into its ``/api/search/lookup`` expression."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

GRAFANA = Path(__file__).resolve().parents[1] / "charts" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE = GRAFANA / "datasources" / "opentsdb.yaml"
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
TAG_VALUES = re.compile(r"tag_values\((.*?),\s?(.*)\)")  # Grafana's own pattern (OpenTSDB data source)
Variables = dict[str, list[str]]


def datasource() -> dict:
    """The one provisioned OpenTSDB datasource."""
    (ds,) = yaml.safe_load(DATASOURCE.read_text())["datasources"]
    return ds


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dash: dict) -> list[dict]:
    """Every panel, those nested in rows included."""
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def targets(dash: dict) -> list[tuple[dict, dict]]:
    """(panel, target) of every query of the dashboard."""
    return [(p, t) for p in panels(dash) for t in p.get("targets", [])]


def substitute(text: str, variables: Variables) -> str:
    """``$name`` / ``${name}`` → the variable's values joined by ``|`` (Grafana's ``pipe`` format)."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name.startswith("tag_"):  # alias placeholders, filled per series by Grafana
            return m.group(0)
        return "|".join(variables[name])

    return VARIABLE.sub(value, text)


def subquery(target: dict, variables: Variables, interval: str = "1m") -> dict:
    """The /api/query sub-query of a target, built by Grafana's OpenTSDB rules (downsample interval-aggregator
    [-fill], rate options, filters or tags); ``interval`` stands for Grafana's auto interval."""
    q: dict = {"metric": substitute(target["metric"], variables), "aggregator": target.get("aggregator") or "avg"}
    if not target.get("disableDownsampling"):
        ds = f"{target.get('downsampleInterval') or interval}-{target['downsampleAggregator']}"
        fill = target.get("downsampleFillPolicy")
        q["downsample"] = ds + (f"-{fill}" if fill and fill != "none" else "")
    if target.get("shouldComputeRate"):
        q["rate"] = True
        q["rateOptions"] = {"counter": bool(target.get("isCounter")), "dropResets": True}
    if target.get("filters"):
        q["filters"] = [dict(f, tagk=substitute(f["tagk"], variables), filter=substitute(f["filter"], variables))
                        for f in target["filters"]]
    elif target.get("tags"):
        q["tags"] = {k: substitute(v, variables) for k, v in target["tags"].items()}
    return q


def lookup_expression(query: str, variables: Variables) -> tuple[str, str]:
    """``tag_values(metric, key[, tag=value...])`` → (``metric{key=*,tag=value}``, key), as Grafana asks
    ``/api/search/lookup``."""
    m = TAG_VALUES.match(substitute(query, variables))
    if not m:
        raise ValueError(f"not a tag_values() query: {query!r}")
    keys = [k.strip() for k in m.group(2).split(",")]
    return f"{m.group(1)}{{{','.join([keys[0] + '=*', *keys[1:]])}}}", keys[0]
