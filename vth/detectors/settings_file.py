"""Detector settings files: the parameters chosen for each detector, in YAML.

``vth backtest --save-params detectors.yaml`` writes the settings a sweep picked;
``vth serve`` and ``vth detect`` read them (``--detector-params`` or the
``detector_params_file`` setting). The file maps detector names to parameters::

    deviation:
      threshold: 2.5
      window: 72h

A detector named here runs with these parameters, also an opt-in one (such as
``deviation``) that would not run otherwise. Every name and parameter is checked
when the file is read, so a typo stops the service at start instead of being ignored.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sklearn.base import BaseEstimator, clone

from vth.detectors.errors import DetectorConfigError
from vth.detectors.registry import get

DetectorParams = dict[str, dict[str, Any]]


def load_detector_params(path: Path | str) -> DetectorParams:
    """Read and check a detector settings file.

    Raises
    ------
    DetectorConfigError
        When the file is unreadable, names an unknown detector, or gives a parameter
        the detector does not have.
    """
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DetectorConfigError(f"{path}: cannot read detector settings ({exc})") from None
    except yaml.YAMLError as exc:
        raise DetectorConfigError(f"{path}: not valid YAML ({exc})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise DetectorConfigError(
            f"{path}: expected detector names mapping to parameters, found a "
            f"{type(content).__name__}"
        )
    return check_detector_params(content, str(path))


def check_detector_params(content: Mapping[str, Any], origin: str = "settings") -> DetectorParams:
    """Check names and parameters against the registry; return them as plain dicts."""
    checked: DetectorParams = {}
    for name, params in content.items():
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise DetectorConfigError(
                f"{origin}: {name}: expected a mapping of parameters, found {type(params).__name__}"
            )
        try:
            cls = get(str(name))
        except KeyError as exc:
            raise DetectorConfigError(f"{origin}: {exc}") from None
        known = cls().get_params(deep=True)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise DetectorConfigError(
                f"{origin}: detector {name!r} has no parameter(s) {', '.join(unknown)}; "
                f"its parameters are {', '.join(sorted(known))}"
            )
        params = {k: _nested(cls, k, v, origin) for k, v in params.items()}
        try:
            configured = cls().set_params(**params)
            clone(configured)  # nested estimators given as plain values fail here
            configured.check_params()
        except DetectorConfigError as exc:
            raise DetectorConfigError(f"{origin}: {exc}") from None
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DetectorConfigError(f"{origin}: detector {name!r}: {exc}") from None
        checked[str(name)] = dict(params)
    return checked


def _nested(cls: type[BaseEstimator], name: str, value: Any, origin: str) -> Any:
    """A mapping given for a parameter that takes a detector becomes that detector.

    ``enose: {quality: {spike_threshold: 5}}`` gives the e-nose detector its own
    quality detector with that threshold.
    """
    if not isinstance(value, Mapping):
        return value
    hints = typing.get_type_hints(cls.__init__)
    kinds = typing.get_args(hints.get(name)) or (hints.get(name),)
    estimators = [k for k in kinds if isinstance(k, type) and issubclass(k, BaseEstimator)]
    if not estimators:
        return value
    try:
        return estimators[0](**value)
    except TypeError as exc:
        raise DetectorConfigError(f"{origin}: {cls.__name__} parameter {name!r}: {exc}") from None


def save_detector_params(
    path: Path | str, detector: str, params: Mapping[str, Any], note: str | None = None
) -> Path:
    """Set ``detector``'s parameters in a settings file, keeping the other detectors.

    ``note`` (e.g. which sweep and metric picked them) goes into the header comment.
    """
    path = Path(path)
    current = load_detector_params(path) if path.exists() else {}
    current[detector] = {k: _plain(v) for k, v in params.items()}
    check_detector_params(current, str(path))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = f"# vth detector settings, updated {stamp}"
    if note:
        header += f"\n# {detector}: {note}"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(_plain(current), sort_keys=True, allow_unicode=True)
    path.write_text(header + "\n" + text, encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples as YAML-friendly Python values."""
    if isinstance(value, str):
        return str(value)  # numpy strings too
    if isinstance(value, BaseEstimator):  # a nested detector: its parameters
        return {k: _plain(v) for k, v in value.get_params(deep=False).items()}
    if hasattr(value, "item") and not isinstance(value, (list, dict)):  # numpy scalars
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
