"""`vth demo --screenshot FILE`: a picture of the inspector's page for reviewers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vth.demo.screenshot import ScreenshotError, take_screenshot
from vth.gateways.broker import free_port

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_saves_a_screenshot_of_the_page(tmp_path: Path, chromium_path: str) -> None:
    picture = tmp_path / "shots" / "page.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vth.cli",
            "demo",
            "--duration",
            "90",
            "--exit-after-alerts",
            "3",
            "--port",
            str(free_port()),
            "--workdir",
            str(tmp_path / "demo"),
            "--screenshot",
            str(picture),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={**os.environ, "VTH_CHROMIUM": chromium_path},
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/ui/" in proc.stdout
    assert f"screenshot of the inspector's page: {picture}" in proc.stdout
    data = picture.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1366, 768)


def test_without_chromium_the_screenshot_fails_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vth.demo.screenshot.find_chromium", lambda: None)

    with pytest.raises(ScreenshotError, match="apt-get install chromium"):
        take_screenshot("http://127.0.0.1:9/ui/", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_page_that_does_not_answer_fails_with_a_clear_error(
    tmp_path: Path, chromium_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTH_CHROMIUM", chromium_path)

    with pytest.raises(ScreenshotError, match=r"screenshot of http://127\.0\.0\.1:"):
        take_screenshot(f"http://127.0.0.1:{free_port()}/ui/", tmp_path / "x.png", timeout_s=5)
