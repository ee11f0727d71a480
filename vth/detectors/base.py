"""The detector base class: scikit-learn conventions, ADTK-style public verbs.

Parameters are stored as given in ``__init__`` (no work there), ``fit`` returns
``self``, learned state ends in ``_``; ``get_params``/``set_params``/``clone`` come from
scikit-learn, so parameter sweeps work. A concrete detector writes ``_detect`` (and
``_fit`` when it learns from history) and declares what it is for.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import ClassVar, Self

import xarray as xr
from sklearn.base import BaseEstimator

from vth.detectors.errors import NotFittedError
from vth.models.detection import AlertKind, Detection
from vth.models.profile import MbaProfile


class Detector(BaseEstimator, metaclass=ABCMeta):  # type: ignore[misc]
    """Base class of all detectors.

    Subclasses set the class attributes below and implement :meth:`_detect`;
    registering them with :func:`vth.detectors.registry.register` makes them
    available by ``name`` to the CLI and the API.
    """

    #: Registry name, used in alerts (``detector`` field), the CLI and the API.
    name: ClassVar[str]
    #: Alert kind the detections have.
    kind: ClassVar[AlertKind]
    #: Technology of the inventory it serves (sensors, e-noses, satellites, drones, ...).
    technology: ClassVar[str]
    #: Supervision tasks it supports.
    tasks: ClassVar[tuple[str, ...]]
    #: What data it needs, e.g. ``("stream:NOx", "stream:O2")``.
    inputs: ClassVar[tuple[str, ...]]
    #: Plain-language detection limit.
    detection_limit: ClassVar[str]
    #: Whether :meth:`fit` must run on history before :meth:`detect`.
    requires_fit: ClassVar[bool] = False

    def fit(self, dataset: xr.Dataset | None = None, profile: MbaProfile | None = None) -> Self:
        """Learn from history (a no-op for stateless detectors); returns ``self``."""
        self._fit(dataset, profile)
        self.is_fitted_ = True
        return self

    def detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Run on a ``(sensor, time)`` dataset of one MBA against its permitted profile."""
        if self.requires_fit and not getattr(self, "is_fitted_", False):
            raise NotFittedError(f"detector {self.name!r} must be fitted on history before detect")
        return self._detect(dataset, profile)

    def fit_detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Fit on the dataset, then detect on it."""
        return self.fit(dataset, profile).detect(dataset, profile)

    def _fit(self, dataset: xr.Dataset | None, profile: MbaProfile | None) -> None:
        """Learn state from history; stateless detectors keep this no-op."""

    @abstractmethod
    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Find detections in one MBA's dataset; each detector writes this."""

    @classmethod
    def describe(cls) -> dict[str, object]:
        """What the detector is for, for the inventory and the API."""
        return {
            "name": cls.name,
            "kind": cls.kind,
            "technology": cls.technology,
            "tasks": list(cls.tasks),
            "inputs": list(cls.inputs),
            "detection_limit": cls.detection_limit,
            "requires_fit": cls.requires_fit,
            "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
        }
