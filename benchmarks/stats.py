"""Median and p95 of timing samples, and rounding that never turns a small positive figure into zero."""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(samples: Sequence[float]) -> float:
    """The middle sample (the mean of the two middle ones for an even count): robust to one slow outlier."""
    return quantile(samples, 0.5)


def p95(samples: Sequence[float]) -> float:
    return quantile(samples, 0.95)


def quantile(samples: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), so p95 of few samples is defined."""
    if not samples:
        raise ValueError("no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(samples)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant figures: short JSON, and a tiny positive time stays positive."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))
