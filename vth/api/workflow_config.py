"""The agency's workflow settings: grouping, LHSO rules, forwarding targets and retries.

One YAML file (``VTH_WORKFLOW_FILE``), e.g.::

    quiet_period_s: 3600          # alerts within an hour of an open incident join it
    quiet_period_by_kind: {gas_incident: 7200}
    lhso: {hazardous_substances: [HF, HCl, NH3], history_days: 365}
    retry: {base_s: 2, max_s: 600, max_attempts: 12}
    webhooks:
      - name: meldkamer
        url: https://meldkamer.example/vth/events
        secret: ${VTH_MELDKAMER_SECRET}   # from the environment, never in the file
        trigger: new
    zgw:
      zaken_api: https://open-zaak.example/zaken/api/v1
      ...

``${NAME}`` anywhere in a value is replaced by the environment variable ``NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vth.api.forwarding.base import ForwardingTarget
from vth.api.forwarding.webhook import WebhookConfig, WebhookTarget
from vth.api.forwarding.zgw import ZgwConfig, ZgwTarget
from vth.api.outbox import RetryPolicy
from vth.api.workflow import WorkflowPolicy
from vth.models import LhsoRules
from vth.models.yamlfile import read_yaml_model


class RetryConfig(BaseModel):
    """Backoff of failed deliveries (see :class:`vth.api.outbox.RetryPolicy`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_s: float = Field(default=2.0, gt=0)
    max_s: float = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    jitter: float = Field(default=0.2, ge=0, lt=1)
    lease_s: float = Field(default=120.0, gt=0)


class WorkflowConfig(BaseModel):
    """Everything an agency sets about the inspection workflow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quiet_period_s: float = Field(default=3600.0, ge=0)
    quiet_period_by_kind: dict[str, float] = Field(default_factory=dict)
    lhso: LhsoRules = Field(default_factory=LhsoRules)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    zgw: ZgwConfig | None = None

    @model_validator(mode="after")
    def _unique_target_names(self) -> WorkflowConfig:
        names = [w.name for w in self.webhooks] + ([self.zgw.name] if self.zgw else [])
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"forwarding target names used twice: {repeated}")
        return self

    def policy(self) -> WorkflowPolicy:
        """The store's grouping, LHSO and forwarding policy."""
        triggers = {w.name: w.trigger for w in self.webhooks}
        if self.zgw is not None:
            triggers[self.zgw.name] = self.zgw.trigger
        return WorkflowPolicy(
            quiet_period_s=self.quiet_period_s,
            quiet_period_by_kind=dict(self.quiet_period_by_kind),
            lhso_rules=self.lhso,
            targets=triggers,
        )

    def retry_policy(self) -> RetryPolicy:
        """The forwarder's backoff."""
        return RetryPolicy(**self.retry.model_dump())

    def targets(self) -> list[ForwardingTarget]:
        """One target per configured webhook and ZGW API (they hold HTTP clients)."""
        targets: list[ForwardingTarget] = [WebhookTarget(w) for w in self.webhooks]
        if self.zgw is not None:
            targets.append(ZgwTarget(self.zgw))
        return targets


def load_workflow_config(
    path: Path | None, environ: Mapping[str, str] | None = None
) -> WorkflowConfig:
    """Read the workflow file; the defaults when ``path`` is None.

    Raises
    ------
    SettingsFileError
        When the file cannot be read, a field is invalid or a ``${NAME}`` is unset.
    """
    if path is None:
        return WorkflowConfig()
    env = os.environ if environ is None else environ
    return read_yaml_model(path, WorkflowConfig, "workflow settings", environ=env)
