"""Trailing baselines: what a sensor reads when nothing happens, from its own past.

A baseline at time t uses only blocks before t's block, so an event never lifts its
own baseline, and running over a growing buffer gives the same values as running once
over the whole history. Block means (an hour by default) are cheap; the median of the
trailing block means ignores the few blocks an event touched.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np


def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """NaN-ignoring means over consecutive blocks of ``block`` samples of the last axis.

    The last block may be partial. Blocks without valid samples are NaN.
    """
    n = values.shape[-1]
    n_blocks = -(-n // block)
    padded = np.full((*values.shape[:-1], n_blocks * block), np.nan, dtype=values.dtype)
    padded[..., :n] = values
    blocks = padded.reshape(*values.shape[:-1], n_blocks, block)
    with np.errstate(invalid="ignore"):
        result: np.ndarray = bn.nanmean(blocks, axis=-1)
    return result


def trailing_baseline(
    values: np.ndarray, block: int, blocks: int, min_blocks: int = 1
) -> np.ndarray:
    """Per sample, the median of the means of the ``blocks`` blocks before its own block.

    Parameters
    ----------
    values
        Samples on a regular grid, time on the last axis; NaN marks missing samples.
    block
        Samples per block (60 for hourly blocks of 1-minute data).
    blocks
        How many earlier blocks the median takes.
    min_blocks
        Fewer valid earlier blocks than this give NaN (not enough history yet);
        capped at ``blocks`` and at the number of blocks in ``values``.

    Returns
    -------
    numpy.ndarray
        Same shape as ``values``.
    """
    if values.shape[-1] == 0:
        return np.full(values.shape, np.nan, dtype=values.dtype)
    means = block_means(values, block)
    window = max(1, min(blocks, means.shape[-1]))
    medians = bn.move_median(means, window=window, min_count=min(min_blocks, window), axis=-1)
    trailing = np.full_like(medians, np.nan)
    trailing[..., 1:] = medians[..., :-1]
    result: np.ndarray = np.repeat(trailing, block, axis=-1)[..., : values.shape[-1]]
    return result
