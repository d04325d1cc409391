"""Kafka sink of the stream (forecast records, design §3, and dead letters) and the connector's jars.

Spark's Kafka writer is at-least-once: a micro-batch re-run after a crash writes its records again, so
consumers deduplicate by (sensor, measure, epoch), which every forecast record carries.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import forecasts

ISO_MS = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
JSON_OPTIONS = {"ignoreNullFields": "false"}  # a missing reading is "actual": null, not an absent field
PRODUCER_OPTIONS = {"kafka.linger.ms": "20", "kafka.compression.type": "lz4", "kafka.batch.size": "262144",
                    "kafka.acks": "all"}
INSTALL_HINT = "run `bash hack/kafka.sh fetch` (make test does), or set SENSORCAST_SPARK_JARS to the jar paths"


def _artifact(jar: str) -> str:
    """``kafka-clients-3.9.1.jar`` → ``kafka-clients``."""
    parts = jar[:-4].split("-")
    for i in range(1, len(parts)):
        if parts[i][:1].isdigit():
            return "-".join(parts[:i])
    return jar[:-4]


def connector_jars() -> list[str]:
    """Local jars for ``spark.jars``: ``$SENSORCAST_SPARK_JARS``; none when Spark ships the connector (the job
    image); else the cache hack/kafka.sh fills (``~/.cache/sensorcast/spark-kafka-<pyspark version>``)."""
    env = os.environ.get("SENSORCAST_SPARK_JARS")
    if env:
        return [j for j in env.split(",") if j]
    import pyspark

    shipped_dir = Path(pyspark.__file__).parent / "jars"
    shipped = {_artifact(j.name) for j in shipped_dir.glob("*.jar")}
    if "spark-sql-kafka-0-10_2.13" in shipped:
        return []
    cache = Path(os.environ.get("SENSORCAST_CACHE", Path.home() / ".cache" / "sensorcast"))
    folder = cache / f"spark-kafka-{pyspark.__version__}"
    jars = [str(j) for j in sorted((folder / "all").glob("*.jar")) if _artifact(j.name) not in shipped]
    if not (folder / ".complete").exists() or not any("spark-sql-kafka" in j for j in jars):
        raise FileNotFoundError(f"the Spark Kafka connector jars are not in {folder}: {INSTALL_HINT}")
    return jars


def forecast_json(models: list[str]):
    """Column: a forecast row as its design §3 JSON (NaN → null, ts as ISO-8601 UTC with ms)."""
    from pyspark.sql import functions as F

    def num(c: str):
        return F.nanvl(F.col(c), F.lit(None).cast("double"))

    preds = F.struct(*[num(forecasts.pred_column(m)).alias(m) for m in models])
    return F.to_json(F.struct(F.date_format("ts", ISO_MS).alias("ts"), "epoch", "sensor", "measure",
                              num("actual").alias("actual"), preds.alias("predictions"), "chosen",
                              num("value").alias("value"), "flag", num("residual_z").alias("residual_z")),
                     JSON_OPTIONS)


def dead_letter_json():
    """Column: a dead-letter row as JSON: stage, reason, the raw message (if any) and what was parsed."""
    from pyspark.sql import functions as F

    return F.to_json(F.struct(F.lit("stream").alias("stage"), "reason", "raw",
                              F.date_format("ts", ISO_MS).alias("ts"), "epoch", "sensor", "measure",
                              F.nanvl(F.col("actual"), F.lit(None).cast("double")).alias("value")), JSON_OPTIONS)


class KafkaSink:
    """Forecast records to ``topic`` (key = sensor), dead letters to ``dead_letter_topic`` (key = reason)."""

    def __init__(self, bootstrap: str, topic: str | None, models: list[str],
                 dead_letter_topic: str | None = None, options: dict[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.models = models
        self.dead_letter_topic = dead_letter_topic
        self.options = {**PRODUCER_OPTIONS, **(options or {})}

    def _save(self, df, topic: str) -> None:
        writer = (df.write.format("kafka").option("kafka.bootstrap.servers", self.bootstrap)
                  .option("topic", topic))
        for k, v in self.options.items():
            writer = writer.option(k, v)
        writer.save()

    def write(self, batch_df, batch_id: int, counts: dict[str, int]) -> None:
        from pyspark.sql import functions as F

        if self.topic and counts.get("forecast"):
            fc = batch_df.filter(F.col("kind") == "forecast")
            self._save(fc.select(F.col("sensor").alias("key"), forecast_json(self.models).alias("value")), self.topic)
        if self.dead_letter_topic and counts.get("dead-letter"):
            dl = batch_df.filter(F.col("kind") == "dead-letter")
            self._save(dl.select(F.col("reason").alias("key"), dead_letter_json().alias("value")),
                       self.dead_letter_topic)


def watermarks(consumer, tp, timeout: float) -> tuple[int, int]:
    """Low/high offsets, retried while the partition has no leader yet (a topic just created or a broker restart)."""
    import time

    from confluent_kafka import KafkaException

    deadline = time.time() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=timeout)
        except KafkaException:  # e.g. NOT_LEADER_FOR_PARTITION until the leader is elected
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0, meta: bool = False) -> list[tuple]:
    """Every (key, value) in a topic now, up to each partition's current end (confluent-kafka); with ``meta``,
    (key, value, partition, headers dict). In log order within a partition.

    For reports, tests and benchmarks that read the stream's output back; not a streaming consumer.
    """
    import time

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"sensorcast-read-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "fetch.max.bytes": 64 * 1024 * 1024})
    try:
        md = consumer.list_topics(topic, timeout=timeout)
        if topic not in md.topics or md.topics[topic].error:
            return []
        parts = sorted(md.topics[topic].partitions)
        ends = {p: watermarks(consumer, TopicPartition(topic, p), timeout)[1] for p in parts}
        todo = {p for p in parts if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        out: list[tuple] = []
        deadline = time.time() + timeout
        while todo and time.time() < deadline:
            for msg in consumer.consume(10_000, 1.0):
                if msg.error():
                    continue
                out.append((msg.key(), msg.value(), msg.partition(), dict(msg.headers() or []))
                           if meta else (msg.key(), msg.value()))
                if msg.offset() >= ends[msg.partition()] - 1:
                    todo.discard(msg.partition())
        if todo:
            raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to their end in {timeout:.0f} s")
        return out
    finally:
        consumer.close()
