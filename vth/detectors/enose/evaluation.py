"""How well the e-nose detector finds simulated releases and names their source.

Runs the detector over many random scenarios of :mod:`vth.sensing.scenario` (known
releases, faults, wind) and scores it: the share of releases detected, how often the
true MBA (and the true emission point) is ranked first, false incidents per day, and
incidents caused by faulty sensors. For tests, ``make bench`` and data scientists
tuning the detector's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vth.detectors.enose.detector import EnoseIncidentDetector
from vth.models.detection import Detection
from vth.sensing.scenario import Scenario, clean_history, random_scenario, simulate

#: An incident matches a release when it starts before the release's end plus this.
MATCH_AFTER_MINUTES = 60


@dataclass(frozen=True)
class ReleaseOutcome:
    """What the detector made of one release."""

    seed: int
    mba_id: str
    source_id: str | None
    rate_g_s: float
    detected: bool
    mba_rank: int | None = None
    source_rank: int | None = None
    delay_minutes: float | None = None
    responders: int = 0


@dataclass(frozen=True)
class Evaluation:
    """Scores over many scenarios."""

    scenarios: int
    releases: list[ReleaseOutcome] = field(default_factory=list)
    false_incidents: int = 0
    fault_incidents: int = 0
    days: float = 0.0

    def _share(self, hits: int) -> float:
        return hits / len(self.releases) if self.releases else float("nan")

    @property
    def detection_rate(self) -> float:
        """Share of releases detected as an incident."""
        return self._share(sum(r.detected for r in self.releases))

    @property
    def top1_mba_rate(self) -> float:
        """Share of all releases whose MBA is ranked first."""
        return self._share(sum(r.mba_rank == 1 for r in self.releases))

    @property
    def top1_mba_rate_detected(self) -> float:
        """Share of detected releases whose MBA is ranked first."""
        detected = [r for r in self.releases if r.detected]
        return sum(r.mba_rank == 1 for r in detected) / len(detected) if detected else float("nan")

    @property
    def top3_mba_rate(self) -> float:
        """Share of all releases whose MBA is among the first three."""
        return self._share(sum(r.mba_rank is not None and r.mba_rank <= 3 for r in self.releases))

    @property
    def top1_source_rate(self) -> float:
        """Share of all releases whose emission point is named by the top candidate."""
        return self._share(sum(r.source_rank == 1 for r in self.releases))

    @property
    def false_incidents_per_day(self) -> float:
        """Incidents that match no release, per simulated day of the whole network."""
        return self.false_incidents / self.days if self.days else float("nan")

    @property
    def median_delay_minutes(self) -> float:
        """Median minutes from release start to incident start, over detected releases."""
        delays = [r.delay_minutes for r in self.releases if r.delay_minutes is not None]
        return float(np.median(delays)) if delays else float("nan")

    def summary(self) -> dict[str, Any]:
        """The scores as plain numbers."""
        return {
            "scenarios": self.scenarios,
            "releases": len(self.releases),
            "detection_rate": round(self.detection_rate, 3),
            "top1_mba_rate": round(self.top1_mba_rate, 3),
            "top1_mba_rate_detected": round(self.top1_mba_rate_detected, 3),
            "top3_mba_rate": round(self.top3_mba_rate, 3),
            "top1_source_rate": round(self.top1_source_rate, 3),
            "median_delay_minutes": self.median_delay_minutes,
            "false_incidents": self.false_incidents,
            "false_incidents_per_day": round(self.false_incidents_per_day, 3),
            "fault_incidents": self.fault_incidents,
        }


def score_scenario(scenario: Scenario, incidents: list[Detection], seed: int = 0) -> Evaluation:
    """Match the incidents of one scenario with its releases and faults."""
    spans = [
        (pd.Timestamp(d.start).tz_convert(None), pd.Timestamp(d.end).tz_convert(None))
        for d in incidents
    ]
    matched: set[int] = set()
    outcomes = []
    for release in scenario.releases:
        r_start = pd.Timestamp(release.start)
        r_end = r_start + pd.Timedelta(minutes=release.minutes + MATCH_AFTER_MINUTES)
        hits = [i for i, (a, b) in enumerate(spans) if a < r_end and b > r_start]
        if not hits:
            outcomes.append(
                ReleaseOutcome(seed, release.mba_id, release.source_id, release.rate_g_s, False)
            )
            continue
        matched.update(hits)
        first = min(hits, key=lambda i: spans[i][0])
        d = incidents[first]
        mbas = [c.mba_id for c in d.candidates]
        mba_rank = mbas.index(release.mba_id) + 1 if release.mba_id in mbas else None
        top = d.candidates[0] if d.candidates else None
        source_rank = (
            1
            if top is not None
            and top.mba_id == release.mba_id
            and top.source_id == release.source_id
            else None
        )
        outcomes.append(
            ReleaseOutcome(
                seed,
                release.mba_id,
                release.source_id,
                release.rate_g_s,
                True,
                mba_rank,
                source_rank,
                (spans[first][0] - r_start).total_seconds() / 60,
                len(d.evidence.get("responding", [])),
            )
        )
    false = [i for i in range(len(incidents)) if i not in matched]
    faulty = 0
    for i in false:
        sensors = {r["sensor"] for r in incidents[i].evidence.get("responding", [])}
        a, b = spans[i]
        for fault in scenario.faults:
            f_start = pd.Timestamp(fault.start)
            f_end = f_start + pd.Timedelta(minutes=fault.minutes)
            if fault.sensor_id in sensors and a < f_end + pd.Timedelta(hours=6) and b > f_start:
                faulty += 1
                break
    return Evaluation(1, outcomes, len(false), faulty, scenario.minutes / 1440)


def evaluate(
    seeds: range | list[int],
    detector: EnoseIncidentDetector | None = None,
    history_minutes: int = 3 * 1440,
    **scenario_options: Any,
) -> Evaluation:
    """Fit and run the detector on one random scenario per seed and pool the scores.

    Parameters
    ----------
    seeds
        One scenario per seed (:func:`vth.sensing.scenario.random_scenario`).
    detector
        The detector (a clone is fitted per scenario); defaults when None.
    history_minutes
        Clean history each scenario's detector is fitted on.
    scenario_options
        Passed to :func:`~vth.sensing.scenario.random_scenario` (``n_enoses``,
        ``minutes``, ``n_releases``, ``n_faults``, ...).
    """
    from sklearn.base import clone

    template = detector if detector is not None else EnoseIncidentDetector()
    releases: list[ReleaseOutcome] = []
    scenarios = false = faulty = 0
    days = 0.0
    for seed in seeds:
        scenario = random_scenario(seed, **scenario_options)
        fitted = clone(template).fit(clean_history(scenario, history_minutes), scenario.network)
        incidents = fitted.detect(simulate(scenario), scenario.network)
        scored = score_scenario(scenario, incidents, seed)
        releases.extend(scored.releases)
        false += scored.false_incidents
        faulty += scored.fault_incidents
        days += scored.days
        scenarios += 1
    return Evaluation(scenarios, releases, false, faulty, days)
