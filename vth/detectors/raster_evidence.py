"""Evidence shared by the raster detectors: what scene a detection was made in."""

from __future__ import annotations

from typing import Any

import xarray as xr
from pyproj import CRS

from vth.sensing.rasters import pixel_size_m


def scene_summary(scene: xr.DataArray) -> dict[str, Any]:
    """Identity, time, grid and size of a scene, for alert evidence."""
    crs = CRS.from_user_input(scene.rio.crs)
    epsg = crs.to_epsg()
    return {
        "scene_id": scene.attrs.get("scene_id", ""),
        "platform": scene.attrs.get("platform", "unknown"),
        "time": scene.attrs.get("time", ""),
        "crs": f"EPSG:{epsg}" if epsg else crs.to_string(),
        "pixel_size_m": round(pixel_size_m(scene), 3),
        "shape": [int(scene.sizes["y"]), int(scene.sizes["x"])],
        "bands": [str(b) for b in scene["band"].values],
    }
