"""The demo and its sample data: helpers for `tiktok-relay demo`, the tests and the benchmarks, kept apart from the
service's stages. ``samples`` builds records of the reference schemas; ``run`` produces them to Kafka, runs the
service against the TikTok sandbox and accounts for every event."""
