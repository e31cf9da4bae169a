"""Intake: the Kafka consumer (the only user of it), rebalances and back-pressure."""
