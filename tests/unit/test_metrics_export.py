"""/metrics carries the process metrics of prometheus-client's default collectors and a build_info series."""

from __future__ import annotations

import platform

import confluent_kafka
from prometheus_client import generate_latest

from consumer import __version__
from consumer.observability.metrics import REGISTRY


def test_process_and_python_metrics_are_exported() -> None:
    """process_* (CPU, memory, open files, start time), python_info and python_gc_* come from the default
    collectors, registered on the relay's own registry."""
    text = generate_latest(REGISTRY).decode()
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_collections_total",
    ):
        assert f"\n{name}" in text, name


def test_build_info_names_the_versions() -> None:
    labels = {
        "version": __version__,
        "python": platform.python_version(),
        "librdkafka": confluent_kafka.libversion()[0],
    }
    assert REGISTRY.get_sample_value("tiktok_relay_build_info", labels) == 1.0
