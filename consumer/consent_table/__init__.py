"""The consent table: the latest consent decision per subject, read from a compacted Kafka topic and checked at
the last moment before an event leaves (each send and retry, and ``dlq replay --to tiktok``).

``settings`` (section ``consent_table``), ``entry`` (a topic value to a packed entry, pure), ``table`` (the
in-memory table and the decision, pure), ``subject`` (who a record is about, pure) and ``reader`` (the Kafka edge:
a group-less consumer over all partitions that keeps the table current).
"""
