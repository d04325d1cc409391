"""Fixtures of the integration tests: the session's Kafka broker (tests/integration/kafka_fixture.py)."""

from tests.integration.kafka_fixture import kafka  # noqa: F401
