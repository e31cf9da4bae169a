"""Decode: Kafka value bytes to a ``DomainRecord`` (Confluent wire format with a registry, or plain Avro)."""
