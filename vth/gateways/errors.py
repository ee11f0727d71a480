"""Errors of the gateways: payloads that cannot be decoded, topics that do not fit."""

from vth.errors import VthError


class GatewayError(VthError):
    """Base class of gateway errors."""


class DecodeError(GatewayError):
    """A message payload cannot be decoded at all (not JSON, wrong shape)."""


class TopicError(GatewayError):
    """A topic does not match the configured topic template."""


class BrokerError(GatewayError):
    """The MQTT broker cannot be started or reached."""


class RasterDecodeError(DecodeError):
    """A raster message or file cannot be read: corrupt GeoTIFF, bad STAC item, no bands."""
