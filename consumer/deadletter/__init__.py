"""Dead letters, the service's side: record headers (pure), Kafka's write faults (pure), the publisher and its
settings. The operator's tools that read what it writes are ``consumer.dlq``."""
