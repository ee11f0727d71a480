"""The tuning walkthrough of README.md runs as written.

The commands between the ``walkthrough:start`` and ``walkthrough:end`` markers are
run one block after another with bash, in a scratch folder that has the repository's
``examples`` and ``.venv`` (as links), so the walkthrough's outputs do not land in the
checkout. Then the files it promises are checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vth.detectors.settings_file import load_detector_params

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def walkthrough_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- walkthrough:start -->(.*?)<!-- walkthrough:end -->", text, re.S)
    assert match, "README.md lost its walkthrough markers"
    return re.findall(r"```bash\n(.*?)```", match.group(1), re.S)


def python_example() -> str:
    """The Python example of the tuning section (it reads the walkthrough's files)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Tuning detectors on history") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "the tuning section lost its Python example"
    return "\n".join(line.removeprefix("  ") for line in block.group(1).splitlines())


def test_walkthrough_has_the_steps_of_the_issue() -> None:
    joined = "\n".join(walkthrough_blocks())
    for step in ("archive import", "labels", "backtest", "--grid", "--save-params", "serve"):
        assert step in joined


@pytest.mark.timeout(600)
def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("VTH_CONFIG", None)
    for i, block in enumerate(walkthrough_blocks(), 1):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"block {i} failed:\n{block}\n{done.stdout}\n{done.stderr}"
        last = done.stdout
    # step 5 listed deviation with the chosen settings
    assert "deviation" in last
    sweep = pd.read_csv(tmp_path / "sweep" / "sweep.csv")
    assert len(sweep) == 24
    assert {"param_threshold", "param_window", "param_min_duration", "f1", "recall"} <= set(
        sweep.columns
    )
    assert pd.read_parquet(tmp_path / "sweep" / "sweep.parquet").shape == sweep.shape
    for name in ("metrics_vs_threshold.png", "metrics_vs_window.png", "best_timeseries.png"):
        assert (tmp_path / "sweep" / name).stat().st_size > 10_000
    saved = load_detector_params(tmp_path / "detectors.yaml")
    best = sweep.sort_values(["f1", "false_alarms", "run"], ascending=[False, True, True]).iloc[0]
    assert saved["deviation"] == {
        "threshold": float(best["param_threshold"]),
        "window": best["param_window"],
        "min_duration": best["param_min_duration"],
    }
    assert (tmp_path / "backtest" / "detections.jsonl").stat().st_size > 0
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert len(labels) > 50 and set(labels["sensor"]) == {"mox-1"}
    assert yaml.safe_load((tmp_path / "detectors.yaml").read_text())["deviation"]
    example = subprocess.run(
        [sys.executable, "-c", python_example()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert example.returncode == 0, example.stderr
    f1, per_month = (float(v) for v in example.stdout.split())
    assert 0 < f1 < 1 and per_month > 0
