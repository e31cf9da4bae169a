"""Sending: HTTP to the TikTok Events API, the response-code classifier, retries, limits and batch isolation."""
