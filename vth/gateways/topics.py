"""Topic templates such as ``vth/{mba_id}/{sensor_id}``."""

from __future__ import annotations

import re

from vth.gateways.errors import TopicError

_FIELDS = ("mba_id", "sensor_id")


class TopicTemplate:
    """Parses topics of a template and gives its MQTT subscription filter."""

    def __init__(self, template: str) -> None:
        for name in _FIELDS:
            if template.count("{" + name + "}") != 1:
                raise TopicError(f"topic template {template!r} must contain {{{name}}} once")
        self.template = template
        pattern = re.escape(template)
        for name in _FIELDS:
            pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
        self._regex = re.compile(f"^{pattern}$")

    @property
    def subscription(self) -> str:
        """The MQTT topic filter matching every topic of the template."""
        return self.template.replace("{mba_id}", "+").replace("{sensor_id}", "+")

    def parse(self, topic: str) -> tuple[str, str]:
        """``(mba_id, sensor_id)`` of a topic; :class:`TopicError` when it does not match."""
        match = self._regex.match(topic)
        if match is None:
            raise TopicError(f"topic {topic!r} does not match {self.template!r}")
        return match["mba_id"], match["sensor_id"]

    def format(self, mba_id: str, sensor_id: str) -> str:
        """The topic of one sensor."""
        return self.template.format(mba_id=mba_id, sensor_id=sensor_id)
