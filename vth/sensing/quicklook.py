"""Quicklooks: small PNG pictures of a scene around a detection, kept as alert evidence."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Circle

#: Side of the quicklook in pixels (at 100 dpi).
QUICKLOOK_PX = 240


@dataclass(frozen=True)
class Mark:
    """Something to draw on a quicklook, in the scene's CRS.

    ``radius`` draws a circle (a permitted heat source's radius), otherwise a cross.
    """

    x: float
    y: float
    label: str
    color: str = "cyan"
    radius: float | None = None


def quicklook_png(
    image: xr.DataArray,
    center: tuple[float, float],
    half_size_m: float,
    *,
    marks: Sequence[Mark] = (),
    outline: np.ndarray | None = None,
    title: str = "",
    units: str = "",
    cmap: str = "inferno",
) -> bytes:
    """A PNG of a north-up ``(y, x)`` image around ``center`` (scene CRS), with marks.

    Parameters
    ----------
    image
        One band with ``x``/``y`` coordinates.
    center, half_size_m
        The area shown: a square of ``2 * half_size_m`` around ``center``.
    marks
        Detections (crosses) and permitted sources (circles).
    outline
        Optional ``(y, x)`` bool mask of the same grid (a plume) drawn as a contour.
    title, units, cmap
        Title, colour-bar label and matplotlib colour map.
    """
    cx, cy = center
    x = image["x"].values
    y = image["y"].values
    xs = np.nonzero(np.abs(x - cx) <= half_size_m)[0]
    ys = np.nonzero(np.abs(y - cy) <= half_size_m)[0]
    if xs.size == 0 or ys.size == 0:  # the centre lies off the grid: show it all
        xs, ys = np.arange(x.size), np.arange(y.size)
    rows = slice(int(ys.min()), int(ys.max()) + 1)
    cols = slice(int(xs.min()), int(xs.max()) + 1)
    crop = np.asarray(image.values)[rows, cols]
    dx = abs(float(x[1] - x[0])) if x.size > 1 else 1.0
    dy = abs(float(y[1] - y[0])) if y.size > 1 else 1.0
    extent = (
        float(x[cols.start]) - dx / 2,
        float(x[cols.stop - 1]) + dx / 2,
        float(y[rows.stop - 1]) - dy / 2,
        float(y[rows.start]) + dy / 2,
    )
    fig = Figure(figsize=(QUICKLOOK_PX / 100, QUICKLOOK_PX / 100), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 0.82, 0.9))
    finite = crop[np.isfinite(crop)]
    vmin, vmax = np.percentile(finite, [2, 99.8]) if finite.size else (0.0, 1.0)
    shown = ax.imshow(
        crop, extent=extent, origin="upper", cmap=cmap, vmin=vmin, vmax=max(vmax, vmin + 1e-9)
    )
    if outline is not None and outline[rows, cols].any():
        ax.contour(
            np.asarray(outline[rows, cols], float),
            levels=[0.5],
            colors="lime",
            linewidths=0.8,
            extent=extent,
            origin="upper",
        )
    for mark in marks:
        if mark.radius is not None:
            ax.add_patch(
                Circle((mark.x, mark.y), mark.radius, fill=False, color=mark.color, lw=0.8)
            )
        else:
            ax.plot(mark.x, mark.y, marker="x", color=mark.color, markersize=7, mew=1.5)
        ax.annotate(
            mark.label,
            (mark.x, mark.y),
            color=mark.color,
            fontsize=5,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=6)
    colorbar = fig.colorbar(shown, cax=fig.add_axes((0.84, 0.05, 0.04, 0.8)))
    colorbar.ax.tick_params(labelsize=5)
    colorbar.set_label(units, fontsize=5)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def png_base64(png: bytes) -> str:
    """PNG bytes as base64 text, for JSON evidence."""
    return base64.b64encode(png).decode("ascii")
