"""Observability: structured logs with redaction, Prometheus metrics, health and readiness."""
