"""Batching: pure micro-batch accumulation per destination, and request bodies with source refs beside them."""
