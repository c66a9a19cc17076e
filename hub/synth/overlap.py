"""How often one person appears: repeat distributions and the row-to-person spreading.

A feed's rows are filled by people who appear once or several times. ``REPEAT_VICTIM`` gives 13%
of police victims two or more appearances in the year (Manchester reports 12% of victims were
victims in the previous twelve months); suspects repeat more; ED re-presentations and repeat
school suspensions have their own curves.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

# P(1), P(2), ... appearances of one person in the year.
REPEAT_VICTIM: Final = (0.87, 0.095, 0.025, 0.007, 0.003)
REPEAT_SUSPECT: Final = (0.72, 0.17, 0.06, 0.03, 0.02)
REPEAT_ED: Final = (0.91, 0.07, 0.02)
REPEAT_AMBULANCE: Final = (0.96, 0.04)
REPEAT_PUPIL: Final = (0.58, 0.22, 0.10, 0.05, 0.03, 0.02)


def repeat_counts(
    rng: np.random.Generator, n_rows: int, dist: tuple[float, ...]
) -> npt.NDArray[np.int64]:
    """Appearances per person, summing to exactly ``n_rows``."""
    if n_rows <= 0:
        return np.zeros(0, dtype=np.int64)
    mean = sum((k + 1) * p for k, p in enumerate(dist))
    probs = np.array(dist) / sum(dist)
    counts = 1 + rng.choice(len(dist), int(n_rows / mean) + 16, p=probs)
    while counts.sum() < n_rows:
        counts = np.concatenate([counts, 1 + rng.choice(len(dist), 64, p=probs)])
    cum = np.cumsum(counts)
    keep = int(np.searchsorted(cum, n_rows)) + 1
    counts = counts[:keep]
    counts[-1] -= int(cum[keep - 1]) - n_rows
    return counts


def spread(rng: np.random.Generator, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Local person index per row: person ``i`` on ``counts[i]`` rows, in random order."""
    return rng.permutation(np.repeat(np.arange(counts.size, dtype=np.int64), counts))


def weighted_sample(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.int64]:
    """Up to ``n`` distinct indices, drawn with probability proportional to ``weights``.

    Uses exponential keys (Efraimidis-Spirakis), which is vectorised and exact.
    """
    positive = np.flatnonzero(weights > 0)
    n = min(n, positive.size)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = rng.exponential(size=positive.size) / weights[positive]
    return np.sort(positive[np.argpartition(keys, n - 1)[:n]]).astype(np.int64)


def compact(columns: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """The same columns in the smallest integer type that holds them (plans stay small in memory).

    >>> compact({"a": np.array([1, 300])})["a"].dtype
    dtype('int16')
    """
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in columns.items():
        if values.dtype.kind in "iu" and values.size:
            low, high = int(values.min()), int(values.max())
            for dtype in (np.int8, np.int16, np.int32, np.int64):
                info = np.iinfo(dtype)
                if info.min <= low and high <= info.max:
                    out[name] = values.astype(dtype)
                    break
        out.setdefault(name, values)
    return out


def distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sorted distinct values (sort-based: much faster than ``np.unique`` on big int arrays).

    >>> distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(values)
    keep = np.ones(ordered.size, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]
