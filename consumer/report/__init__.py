"""Match-quality report: identifier coverage, dedup readiness and delivery health per event."""
