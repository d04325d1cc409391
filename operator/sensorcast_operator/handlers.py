"""kopf handlers: one reconcile for create/resume/spec-update of ForecastPipelines; child status via on.event.

Children are watched with ``@kopf.on.event`` only (no kopf annotations or finalizers on foreign objects). A
deleted child makes its pipeline reconcile again (it is recreated); deletion of a pipeline relies on the
children's owner references (no delete handler, so no finalizer blocks it when the operator is down).
"""

from __future__ import annotations

import logging

import kopf

from . import names, reconcile

log = logging.getLogger(__name__)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: object) -> None:
    """Our own annotation prefix and finalizer name, so other kopf operators never collide with ours."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = names.FINALIZER
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 4
    settings.watching.server_timeout = 270
    settings.networking.request_timeout = 60


@kopf.on.login()
def login(**kwargs: object) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else $KUBECONFIG as it is when the operator starts."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.resume(names.GROUP, names.VERSION, names.PLURAL)
@kopf.on.create(names.GROUP, names.VERSION, names.PLURAL)
@kopf.on.update(names.GROUP, names.VERSION, names.PLURAL, field="spec")
def reconcile_pipeline(body: kopf.Body, **_: object) -> None:
    """Level-triggered: whatever the cause, make the children match the current spec."""
    fp = dict(body)
    result = reconcile.reconcile(fp)
    if result.retry:
        raise kopf.TemporaryError(result.verdict.message, delay=reconcile.retry_delay())


def _child_event(event: kopf.RawEvent, body: kopf.Body) -> None:
    fp = reconcile.owner_pipeline(dict(body))
    if fp is None:
        return
    if event.get("type") == "DELETED":
        log.info("%s %s deleted: reconciling %s", body.get("kind"), body.metadata.name, fp["metadata"]["name"])
        reconcile.reconcile(fp)
    else:
        reconcile.write_status(fp)


CHILD_LABELS = {names.PIPELINE_LABEL: kopf.PRESENT}


@kopf.on.event(names.SPARK_GROUP, names.SPARK_VERSION, names.SPARK_PLURAL, labels=CHILD_LABELS)
def spark_application_event(event: kopf.RawEvent, body: kopf.Body, **_: object) -> None:
    _child_event(event, body)


@kopf.on.event("batch", "v1", "jobs", labels=CHILD_LABELS)
def job_event(event: kopf.RawEvent, body: kopf.Body, **_: object) -> None:
    _child_event(event, body)


@kopf.on.event(names.STRIMZI_GROUP, names.STRIMZI_VERSION, names.TOPIC_PLURAL, labels=CHILD_LABELS)
def kafka_topic_event(event: kopf.RawEvent, body: kopf.Body, **_: object) -> None:
    _child_event(event, body)


@kopf.on.event("", "v1", "configmaps", labels=CHILD_LABELS)
def config_map_event(event: kopf.RawEvent, body: kopf.Body, **_: object) -> None:
    if event.get("type") == "DELETED":
        _child_event(event, body)
