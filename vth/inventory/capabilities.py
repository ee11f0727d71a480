"""What the toolkit can do: the capabilities its detectors and gateways declare."""

from __future__ import annotations

from vth.detectors import get, names
from vth.gateways import mqtt, raster_ingest
from vth.models.inventory import Capability

#: The gateways, each declaring its ``CAPABILITY``.
GATEWAYS = (mqtt.CAPABILITY, raster_ingest.CAPABILITY)


def capabilities() -> list[Capability]:
    """Every registered detector's capability, then the gateways', by name.

    A detector registered at run time (a plug-in, a test) is included as soon as it
    is registered.
    """
    detectors = [get(name).capability() for name in names()]
    return sorted(detectors, key=lambda c: c.name) + sorted(GATEWAYS, key=lambda c: c.name)
