"""Detection over buffers: one failing MBA does not stop the others."""

from __future__ import annotations

import numpy as np

from vth.models import MbaProfile
from vth.pipeline import stream_detectors
from vth.runtime import detect_alerts
from vth.sensing import Reading, StreamBuffer

T0 = int(np.datetime64("2026-01-05T10:00", "ns").astype(np.int64))
MINUTE = 60 * 10**9


def test_an_mba_without_o2_is_reported_and_the_others_still_alert(
    example_profiles: dict[str, MbaProfile],
):
    buffer = StreamBuffer()
    # incinerator NOx limits apply at 11% O2, but no O2 is sent: an error, not an alert
    buffer.append(
        "avi-rozenburg",
        [Reading("cems-l1", "NOx", T0 + i * MINUTE, 900.0, "mg/m3") for i in range(60)],
    )
    # fence-line benzene needs no O2: 90 ug/m3 against 50 for a whole hour
    buffer.append(
        "chemie-botlek",
        [Reading("fl-east", "benzene", T0 + i * MINUTE, 0.09, "mg/m3") for i in range(61)],
    )

    alerts, errors = detect_alerts(buffer, example_profiles, stream_detectors())

    assert [(a.mba_id, a.substance) for a in alerts] == [("chemie-botlek", "benzene")]
    assert len(errors) == 1
    assert errors[0].startswith("compliance on avi-rozenburg: ")
    assert "no O2" in errors[0]
