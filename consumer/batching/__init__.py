"""Batching: pure micro-batch accumulation per destination (the TikTok body around a batch is ``sending.body``)."""
