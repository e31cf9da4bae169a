"""The one exponential backoff formula, pure: the sender's retries, the decode hold and the durable writes use it."""

from __future__ import annotations

_MAX_EXPONENT = 62  # 2**62 times any sane base is beyond every cap; keeps the float finite


def exponential_backoff(failures: int, base_s: float, max_s: float) -> float:
    """``min(max_s, base_s * 2**(failures-1))``: the wait after ``failures`` (>= 1) consecutive failures."""
    return min(max_s, base_s * 2.0 ** min(failures - 1, _MAX_EXPONENT))
