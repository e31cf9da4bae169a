"""A local, faithful double of the TikTok Events API for tests, the demo, benchmarks and staging."""
