"""A local Mosquitto broker process on loopback, for tests, benchmarks and trials.

Production runs Mosquitto as a system service; this starts one from a configuration
file, waits until its listeners accept connections, and stops (or restarts) it on the
same ports.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from vth.gateways.broker import free_port
from vth.gateways.errors import BrokerError


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` broker if installed (Debian puts it in /usr/sbin)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


class MosquittoProcess:
    """A Mosquitto process run from ``config``, restartable on the same ports.

    Parameters
    ----------
    executable
        The ``mosquitto`` binary (:func:`find_mosquitto`).
    config
        Its configuration file; the log is written beside it (``.log``).
    ports
        The loopback ports its listeners use; :meth:`start` waits for all of them.
    """

    def __init__(self, executable: str, config: Path, ports: Sequence[int]) -> None:
        if not ports:
            raise ValueError("MosquittoProcess needs the port of at least one listener")
        self.executable = executable
        self.config = config
        self.ports = list(ports)
        self.log = config.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_free_port(cls, executable: str, workdir: Path, options: str = "") -> MosquittoProcess:
        """One listener on a free loopback port, with ``options`` (config lines) after it."""
        port = free_port()
        config = workdir / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\n{options}")
        return cls(executable, config, [port])

    @property
    def port(self) -> int:
        """The first listener's port."""
        return self.ports[0]

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>`` of the first listener."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker; return once every listener accepts connections.

        Raises
        ------
        BrokerError
            When it exits or does not listen within ``timeout`` s; with its log.
        """
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.executable, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        waiting = list(self.ports)
        while waiting and time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", waiting[0])) == 0:
                    waiting.pop(0)
                    continue
            time.sleep(0.05)
        if waiting:
            self.stop()
            raise BrokerError(
                f"mosquitto did not listen on 127.0.0.1:{waiting[0]} within {timeout:g} s; "
                f"its log:\n{self.log.read_text(errors='replace')[-2000:]}"
            )

    def stop(self) -> None:
        """Terminate the broker (it saves persistent sessions); kill it after 10 s."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
