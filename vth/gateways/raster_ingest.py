"""The raster side of the gateway: images on ``vth/rasters/<platform>`` into the scene inbox.

A message is GeoTIFF bytes or a STAC Item (JSON). It is read windowed around the MBAs
it covers, reprojected to the local grid and put in the
:class:`~vth.sensing.scene_inbox.SceneInbox` (spooled before acknowledgement).
Messages that cannot be read, or are too large, are quarantined with the reason;
images that cover no MBA are counted and dropped (nothing to judge them against).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vth.gateways.errors import RasterDecodeError, TopicError
from vth.gateways.quarantine import Quarantine
from vth.gateways.rasters import RasterOptions, decode_raster
from vth.models.inventory import Capability
from vth.sensing.rasters import Region
from vth.sensing.scene_inbox import SceneInbox

#: What this gateway brings in, for the technology inventory.
CAPABILITY = Capability(
    name="mqtt-rasters",
    component="gateway",
    technologies=("satellite-images", "drones"),
    tasks=("supervision", "enforcement", "environmental_monitoring", "data_collection"),
    inputs=(
        "MQTT vth/rasters/<platform>: GeoTIFF bytes or STAC Items",
        "bands: thermal, swir16 (B11), swir22 (B12), nir",
    ),
    detection_limit="the image's pixel size (Landsat 30 m, Sentinel-2 20 m, drones < 1 m)",
)


@dataclass
class RasterStats:
    """Counters for health checks and tests."""

    messages: int = 0
    scenes: int = 0
    quarantined: int = 0
    outside: int = 0
    last_problem: str | None = None


@dataclass(frozen=True)
class RasterTopic:
    """A raster topic template with ``{platform}``, e.g. ``vth/rasters/{platform}``."""

    template: str
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.template.count("{platform}") != 1:
            raise TopicError(f"raster topic template {self.template!r} needs {{platform}} once")
        pattern = re.escape(self.template).replace(re.escape("{platform}"), "(?P<platform>[^/]+)")
        object.__setattr__(self, "_regex", re.compile(f"^{pattern}$"))

    @property
    def subscription(self) -> str:
        """The MQTT topic filter of the template."""
        return self.template.replace("{platform}", "+")

    def platform(self, topic: str) -> str | None:
        """The platform of a raster topic, or None when the topic is not one."""
        match = self._regex.match(topic)
        return match["platform"] if match else None

    def format(self, platform: str) -> str:
        """The topic of a platform."""
        return self.template.format(platform=platform)


class RasterIngestor:
    """Decodes raster messages into scenes per MBA and puts them in the inbox.

    Parameters
    ----------
    inbox
        Where decoded scenes wait for detection.
    quarantine
        Where unreadable messages go, with the reason.
    regions
        The MBAs' areas; only these windows of a scene are read.
    topic
        The raster topic template.
    crs
        The local grid scenes are reprojected to (RD New).
    max_bytes
        Larger messages are quarantined unread.
    band_roles
        Per platform, band roles for files that do not name their bands.
    """

    def __init__(
        self,
        inbox: SceneInbox,
        quarantine: Quarantine,
        regions: Sequence[Region],
        topic: RasterTopic | None = None,
        crs: str | None = "EPSG:28992",
        max_bytes: int = 256 * 2**20,
        band_roles: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.inbox = inbox
        self.quarantine = quarantine
        self.regions = list(regions)
        self.topic = topic or RasterTopic("vth/rasters/{platform}")
        self.crs = crs
        self.max_bytes = max_bytes
        self.band_roles = dict(band_roles or {})
        self.stats = RasterStats()

    def matches(self, topic: str) -> bool:
        """Whether a topic is a raster topic."""
        return self.topic.platform(topic) is not None

    def ingest(
        self, topic: str, payload: bytes, received_ns: int, spooled: Path | None = None
    ) -> int:
        """Decode one message into the inbox; return the number of MBA scenes it gave.

        Unreadable or oversized messages are quarantined (0 scenes).
        """
        self.stats.messages += 1
        platform = self.topic.platform(topic) or "unknown"
        try:
            if len(payload) > self.max_bytes:
                raise RasterDecodeError(
                    f"raster message of {len(payload)} bytes is larger than the limit of "
                    f"{self.max_bytes} bytes (VTH_RASTER_MAX_BYTES); send a STAC Item "
                    "pointing at the file instead"
                )
            options = RasterOptions(
                crs=self.crs,
                platform=platform,
                band_roles=self.band_roles.get(platform),
                default_time=datetime.fromtimestamp(received_ns / 1e9, UTC),
            )
            scenes = decode_raster(payload, self.regions, options)
        except RasterDecodeError as exc:
            self.stats.quarantined += 1
            self.stats.last_problem = str(exc)
            self.quarantine.put(topic, payload, str(exc))
            scenes = {}
        else:
            if not scenes:
                self.stats.outside += 1
        if not scenes:
            if spooled is not None:  # quarantined or covering no MBA: never replay it
                self.inbox.forget(spooled)
            return 0
        self.inbox.put(topic, payload, received_ns, scenes, spooled=spooled)
        self.stats.scenes += len(scenes)
        return len(scenes)

    def replay_spool(self) -> int:
        """Decode the messages left in the spool by an earlier run; return how many."""
        n = 0
        for path, topic, received_ns, payload in self.inbox.spooled():
            self.ingest(topic, payload, received_ns, spooled=path)
            n += 1
        return n
