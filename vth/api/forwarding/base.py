"""What every forwarding target is: a name, a trigger and ``deliver``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from vth.api.workflow import Trigger
from vth.errors import VthError
from vth.models import Alert, MbaProfile


class DeliveryError(VthError):
    """A delivery failed.

    Parameters
    ----------
    message
        What went wrong, without secrets.
    permanent
        True when trying again cannot help (the target refused the request as
        invalid); False for a target that is down, slow or overloaded.
    progress
        What the target did before it failed (e.g. the zaak it created), given back
        to ``deliver`` on the next attempt so that it goes on from there.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, progress: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.progress = progress


class ForwardingTarget(ABC):
    """A place alerts are delivered to (a webhook, a ZGW Zaken API).

    ``deliver`` is called from the forwarder's thread, once per attempt, and must be
    safe to call again for the same alert: receivers deduplicate by alert id, and
    ``progress`` carries what an earlier attempt achieved.
    """

    #: Unique name of the target; deliveries are tracked per (alert, name).
    name: str
    #: ``new``: every alert that opens an incident; ``forward``: when an inspector forwards.
    trigger: Trigger

    @abstractmethod
    def deliver(
        self, alert: Alert, profile: MbaProfile | None, progress: dict[str, Any]
    ) -> dict[str, Any]:
        """Deliver one alert; return what to remember (e.g. ``{"zaak": url}``).

        Raises
        ------
        DeliveryError
            When the delivery failed; ``permanent`` tells whether to try again.
        """

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release connections; called when the forwarder stops."""
