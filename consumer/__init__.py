"""tiktok-events-relay: Kafka domain events to the TikTok Events API, at least once."""

__version__ = "0.1.0"
