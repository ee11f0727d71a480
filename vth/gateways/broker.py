"""The embedded MQTT broker (amqtt): the zero-setup default when no broker URL is set.

Production uses a real broker (Mosquitto, EMQX). The embedded one serves demos and
single-machine use; it runs its asyncio loop in a background thread. Note: amqtt does
not queue QoS 1 messages for offline persistent sessions the way Mosquitto does, so
restart-safety across gateway restarts needs a real broker.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Self

from vth.gateways.errors import BrokerError

log = logging.getLogger(__name__)


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP port can be bound on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` in a background thread.

    Parameters
    ----------
    host
        Address to listen on; loopback by default.
    port
        TCP port; 0, or a busy port with ``fallback=True``, picks a free one.
    fallback
        When the port is taken, use a free port instead of failing.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, fallback: bool = True) -> None:
        self.host = host
        self.port = port
        self.fallback = fallback
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker; returns once it accepts connections."""
        if self.port == 0 or (self.fallback and not port_is_free(self.host, self.port)):
            chosen = free_port(self.host)
            if self.port:
                log.warning("port %s is taken; embedded broker uses %s", self.port, chosen)
            self.port = chosen
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(config, loop=loop)
                loop.run_until_complete(self._broker.start())
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="vth-embedded-broker", daemon=True)
        self._thread.start()
        if not started.wait(timeout) or failure:
            reason = failure[0] if failure else "timed out"
            raise BrokerError(
                f"embedded MQTT broker could not start on {self.host}:{self.port}: {reason}"
            )
        log.info("embedded MQTT broker listening on %s", self.url)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and end its thread."""
        loop, broker = self._loop, self._broker
        if loop is None:
            return
        if broker is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            try:
                future.result(timeout)
            except Exception as exc:  # a broker that fails to close must not block shut-down
                log.warning("embedded broker shut-down: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._loop = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
