"""Host names, addresses and broker URLs: shared by the API, the gateway and the settings."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

#: URL schemes of MQTT brokers reached over TLS.
MQTT_TLS_SCHEMES = ("mqtts", "ssl")


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_tls_broker_url(url: str) -> bool:
    """Tell whether an MQTT broker URL asks for TLS (``mqtts://`` or ``ssl://``)."""
    return urlparse(url).scheme in MQTT_TLS_SCHEMES
