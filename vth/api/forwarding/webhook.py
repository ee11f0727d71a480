"""HTTP webhooks: each alert POSTed as a CloudEvent (structured JSON), signed with HMAC.

The receiver checks ``X-Vth-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<X-Vth-Timestamp>.<body>`` under the shared secret, and deduplicates by the event
``id`` (the alert id): a delivery whose answer was lost is sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vth.api.forwarding.base import DeliveryError, ForwardingTarget
from vth.api.forwarding.cloudevents import CONTENT_TYPE, alert_event
from vth.models import Alert, MbaProfile

SIGNATURE_HEADER = "X-Vth-Signature"
TIMESTAMP_HEADER = "X-Vth-Timestamp"
#: Answers after which trying again may help; other 4xx are the receiver refusing.
_RETRYABLE = frozenset({408, 409, 425, 429})


class WebhookConfig(BaseModel):
    """One webhook receiver (e.g. the control room's incident system)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(description="http(s) URL the CloudEvents are POSTed to.")
    secret: SecretStr | None = Field(
        default=None, description="Shared HMAC secret; unset: requests are not signed."
    )
    trigger: Literal["new", "forward"] = "new"
    source: str = Field(
        default="urn:vth-sensing", description="CloudEvents 'source' of this service."
    )
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a body: ``sha256=`` and the hex HMAC.

    Examples
    --------
    >>> sign("s3cret", "1700000000", b"{}")[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Tell whether a received signature is right (for receivers and tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookTarget(ForwardingTarget):
    """POSTs alerts to one webhook; a 2xx answer means delivered.

    Parameters
    ----------
    config
        Where and how to send.
    transport
        An httpx transport (tests); the default opens real connections.
    """

    def __init__(self, config: WebhookConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.name = config.name
        self.trigger = config.trigger
        self._client = httpx.Client(timeout=config.timeout_s, transport=transport)

    def deliver(
        self, alert: Alert, profile: MbaProfile | None, progress: dict[str, Any]
    ) -> dict[str, Any]:
        """POST the alert's CloudEvent; return the answer's status."""
        body = json.dumps(alert_event(alert, self.config.source), separators=(",", ":")).encode()
        headers = {"Content-Type": CONTENT_TYPE}
        if self.config.secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self.config.secret.get_secret_value(), timestamp, body)
        try:
            response = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"webhook {self.name}: {type(exc).__name__}: {exc or 'no answer'}"
            ) from None
        if response.is_success:
            return {"http_status": response.status_code}
        retry = response.status_code >= 500 or response.status_code in _RETRYABLE
        raise DeliveryError(
            f"webhook {self.name}: HTTP {response.status_code} {response.reason_phrase}: "
            f"{response.text[:200]}",
            permanent=not retry,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
