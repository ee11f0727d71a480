"""The compliance detector: the permit's averaging rules, live over stream buffers."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from vth.detectors.base import Detector
from vth.detectors.compliance.detections import detections_of
from vth.detectors.compliance.evaluation import CheckKind, Unevaluated, evaluate_mba
from vth.detectors.registry import register
from vth.models.detection import Detection
from vth.models.profile import MbaProfile


class LimitDetector(Detector):
    """Shared body of the detectors that judge emission limits (see :func:`evaluate_mba`).

    Parameters
    ----------
    min_coverage
        Overrides every limit's ``min_coverage`` when set.
    sampling_interval
        Sampling interval for coverage (e.g. ``"1min"``); inferred per sensor when None.
    substances
        Only check these substances; all limits when None.
    """

    checks: tuple[CheckKind, ...] = ()

    def __init__(
        self,
        min_coverage: float | None = None,
        sampling_interval: str | None = None,
        substances: list[str] | None = None,
    ) -> None:
        self.min_coverage = min_coverage
        self.sampling_interval = sampling_interval
        self.substances = substances

    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        interval = (
            None
            if self.sampling_interval is None
            else int(pd.Timedelta(self.sampling_interval).value)
        )
        detections: list[Detection] = []
        for ev in evaluate_mba(
            dataset,
            profile,
            self.checks,
            min_coverage=self.min_coverage,
            sampling_interval_ns=interval,
            substances=self.substances,
        ):
            if isinstance(ev, Unevaluated):
                if ev.error is not None:
                    raise ev.error
                continue
            detections.extend(detections_of(ev, dataset, self.name, self.get_params()))
        return sorted(
            detections, key=lambda d: (d.start, d.source_id or "", d.substance or "", d.end)
        )


@register
class ComplianceDetector(LimitDetector):
    """Averages that break the permit's emission limits, by the limits' own rules.

    Per limit: clock-aligned averages within operating time at reference O2, valid
    with enough samples (or few enough discarded half-hours), minus the confidence
    interval, judged by rule ``all`` (each run of averages above the limit is one
    detection) or a percentile rule (a failed year, month, day or 24 hours is one).
    """

    name = "compliance"
    kind = "exceedance"
    technologies = ("sensors",)
    tasks = ("supervision", "enforcement")
    obligations = ("emission_limit",)
    inputs = ("stream:<substance>", "stream:O2 (when a limit has reference_o2)")
    detection_limit = (
        "one averaging period above the limit after the confidence interval; "
        "needs min_coverage valid samples per window"
    )
    checks = ("exceedance",)
