"""Contextual thermal-anomaly tests (MODIS MOD14, Giglio et al. 2003; DESIGN.md section 3).

A pixel is first a *candidate* when it is clearly warmer than the scene (absolute
tests); only candidates get the contextual test, as in MOD14. Each candidate's
background is a square window growing from ``min_window`` to ``max_window`` pixels
until it holds at least ``min_valid`` valid background pixels and ``min_valid_fraction``
of the window; other candidates and nodata are not background. The candidate is
anomalous when it exceeds the background mean by ``k_mad`` mean absolute deviations
and by ``min_excess`` (in the signal's unit). Candidates whose largest window has too
little background are *unknown*, not anomalous (MOD14's "unknown" class).

Everything is vectorised: the scene pass is a few whole-array comparisons; the
windows of all candidates are gathered at once (in blocks, to bound memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vth.detectors.errors import DetectorConfigError

#: Candidates processed per block: bounds the gathered windows (block x window^2 floats).
_BLOCK = 8192


@dataclass(frozen=True)
class ContextualResult:
    """Outcome of the contextual test for each candidate pixel.

    Attributes
    ----------
    rows, cols
        Candidate pixel positions.
    mean, mad
        Background mean and mean absolute deviation (NaN when unknown).
    window
        Side of the background window used (0 when unknown).
    n_background
        Valid background pixels in that window.
    anomalous
        Passed the contextual test.
    """

    rows: np.ndarray
    cols: np.ndarray
    mean: np.ndarray
    mad: np.ndarray
    window: np.ndarray
    n_background: np.ndarray
    anomalous: np.ndarray

    @property
    def unknown(self) -> np.ndarray:
        """Candidates without enough background in the largest window."""
        unknown: np.ndarray = self.window == 0
        return unknown


def scene_level(signal: np.ndarray, stride: int = 4) -> float:
    """Robust level of a scene: the median of a strided sample of its valid pixels."""
    sample = signal[::stride, ::stride]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        sample = signal[np.isfinite(signal)]
    return float(np.median(sample)) if sample.size else float("nan")


def check_windows(min_window: int, max_window: int) -> None:
    """Raise when window sizes are not odd, positive and ordered."""
    if min_window < 3 or max_window < min_window or min_window % 2 == 0 or max_window % 2 == 0:
        raise DetectorConfigError(
            f"background windows must be odd and 3 <= min_window <= max_window, "
            f"got {min_window} and {max_window}"
        )


def contextual_test(
    signal: np.ndarray,
    candidates: np.ndarray,
    *,
    min_window: int = 3,
    max_window: int = 21,
    min_valid: int = 8,
    min_valid_fraction: float = 0.25,
    k_mad: float = 3.5,
    min_excess: float = 6.0,
) -> ContextualResult:
    """Contextual test of the candidate pixels of a 2-D signal (e.g. brightness temperature).

    Parameters
    ----------
    signal
        ``(y, x)`` values, NaN for nodata.
    candidates
        ``(y, x)`` bool mask of candidate pixels (excluded from every background).
    min_window, max_window
        Odd window sides; the window grows by 2 until the background is large enough.
    min_valid, min_valid_fraction
        Background needed: this many valid pixels and this fraction of the window.
    k_mad, min_excess
        Anomalous when ``signal > mean + k_mad * MAD`` and ``signal > mean + min_excess``.
    """
    check_windows(min_window, max_window)
    if signal.shape != candidates.shape or signal.ndim != 2:
        raise DetectorConfigError("signal and candidates must be 2-D arrays of the same shape")
    rows, cols = np.nonzero(candidates)
    half = max_window // 2
    background = np.where(candidates, np.nan, signal).astype(np.float32, copy=False)
    padded = np.pad(background, half, mode="constant", constant_values=np.nan)
    n = rows.size
    mean = np.full(n, np.nan, np.float32)
    mad = np.full(n, np.nan, np.float32)
    window = np.zeros(n, np.int16)
    count = np.zeros(n, np.int32)
    offsets = np.arange(-half, half + 1)
    ring = np.maximum(np.abs(offsets)[:, None], np.abs(offsets)[None, :])  # Chebyshev radius
    halves = np.arange(min_window // 2, half + 1)
    sides = 2 * halves + 1
    needed = np.maximum(min_valid, np.ceil(min_valid_fraction * sides**2)).astype(np.int32)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        r = rows[start:stop, None, None] + half + offsets[None, :, None]
        c = cols[start:stop, None, None] + half + offsets[None, None, :]
        win = padded[r, c]  # (block, W, W)
        valid = np.isfinite(win)
        # valid background per ring radius, then cumulative: count within each window size
        per_ring = np.stack(
            [(valid & (ring == k)).sum(axis=(1, 2)) for k in range(half + 1)], axis=1
        )
        within = np.cumsum(per_ring, axis=1)[:, halves]  # (block, len(halves))
        enough = within >= needed
        has = enough.any(axis=1)
        choice = np.argmax(enough, axis=1)
        chosen_half = np.where(has, halves[choice], 0)
        member = valid & (ring[None] <= chosen_half[:, None, None]) & has[:, None, None]
        cnt = member.sum(axis=(1, 2))
        safe = np.maximum(cnt, 1)
        filled = np.where(member, win, 0.0)
        m = filled.sum(axis=(1, 2)) / safe
        dev = np.where(member, np.abs(win - m[:, None, None]), 0.0).sum(axis=(1, 2)) / safe
        mean[start:stop] = np.where(has, m, np.nan)
        mad[start:stop] = np.where(has, dev, np.nan)
        window[start:stop] = np.where(has, 2 * chosen_half + 1, 0)
        count[start:stop] = np.where(has, cnt, 0)
    values = signal[rows, cols]
    with np.errstate(invalid="ignore"):
        anomalous = (values > mean + k_mad * mad) & (values > mean + min_excess)
    return ContextualResult(rows, cols, mean, mad, window, count, anomalous)
