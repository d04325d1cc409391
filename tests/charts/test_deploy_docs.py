"""The deploy instructions stay the commands that work: the README's "Deploy on Kubernetes" section and
hack/e2e-kind.sh add the chart repositories Chart.yaml pins, build the images under the tags the charts name,
and install the umbrella the same way; the CI workflow runs what .ci/run runs."""

from __future__ import annotations

import re

import yaml

from tests.charts import helmtool
from tests.charts.dockerfiles import built_images

README = (helmtool.ROOT / "README.md").read_text()
SECTION = README[README.index("## Deploy on Kubernetes"):].split("\n## ", 1)[0]
E2E = (helmtool.ROOT / "hack" / "e2e-kind.sh").read_text()


def test_repositories_match_the_pinned_dependencies():
    for dep in helmtool.upstream_dependencies():
        for text, where in ((SECTION, "README"), (E2E, "hack/e2e-kind.sh")):
            assert re.search(rf"repo add \S+ {re.escape(dep['repository'])}", text), f"{where}: {dep['name']}"


def test_readme_builds_every_image_under_its_chart_tag():
    built = re.findall(r"docker build -f (images/\w+/Dockerfile) +-t (\S+) \.", SECTION)
    assert {tag: helmtool.ROOT / path for path, tag in built} == built_images()


def test_install_commands_agree():
    for text in (SECTION, E2E):
        assert "dependency build charts/sensorcast" in text
        assert re.search(r"install sensorcast charts/sensorcast --namespace \S+ --create-namespace", text)
        assert "apply -f operator/examples/keti.yaml" in text


def test_ci_workflow_runs_ci_run():
    ci = yaml.safe_load((helmtool.ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = [s.get("run", "") for job in ci["jobs"].values() for s in job["steps"]]
    assert "bash .ci/run" in steps
    e2e = yaml.safe_load((helmtool.ROOT / ".github" / "workflows" / "kind-e2e.yml").read_text())
    assert "make e2e-kind" in [s.get("run", "") for job in e2e["jobs"].values() for s in job["steps"]]
