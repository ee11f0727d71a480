"""Detector base classes: scikit-learn conventions, ADTK-style public verbs.

Parameters are stored as given in ``__init__`` (no work there), ``fit`` returns
``self``, learned state ends in ``_``; ``get_params``/``set_params``/``clone`` come from
scikit-learn, so parameter sweeps work. A concrete detector writes ``_detect`` (and
``_fit`` when it learns from history) and declares what it is for.

Two scopes:

- :class:`Detector` runs on the streams of one MBA against its permitted profile
  (compliance, peaks);
- :class:`NetworkDetector` runs on the sensors of a whole network (e-noses and weather
  stations of many MBAs and public networks) against a
  :class:`~vth.sensing.network.Network` of candidate emission points (gas incidents
  with source attribution, sensor quality control);
- :class:`RasterDetector` runs on one image (``(band, y, x)`` scene with a CRS) of an
  MBA's area against its permitted heat sources and methane (heat anomalies, plumes).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import ClassVar, Literal, Self

import xarray as xr
from sklearn.base import BaseEstimator

from vth.detectors.errors import NotFittedError
from vth.models.detection import AlertKind, Detection
from vth.models.inventory import Capability, ObligationKind
from vth.models.profile import MbaProfile
from vth.sensing.network import Network

Scope = Literal["mba", "network", "raster"]


class BaseDetector(BaseEstimator, metaclass=ABCMeta):  # type: ignore[misc]
    """What every detector declares, for the registry, the CLI, the API and the inventory."""

    #: Registry name, used in alerts (``detector`` field), the CLI and the API.
    name: ClassVar[str]
    #: Alert kind the detections have.
    kind: ClassVar[AlertKind]
    #: Technologies of the inventory catalogue it works with (ids: ``sensors``,
    #: ``e-noses``, ``satellite-images``, ``drones``, ...).
    technologies: ClassVar[tuple[str, ...]]
    #: Agency tasks it supports (catalogue task ids: ``supervision``, ``enforcement``, ...).
    tasks: ClassVar[tuple[str, ...]]
    #: What of a permit it checks, for the inventory's coverage per MBA.
    obligations: ClassVar[tuple[ObligationKind, ...]] = ()
    #: What data it needs, e.g. ``("stream:NOx", "stream:O2")``.
    inputs: ClassVar[tuple[str, ...]]
    #: Plain-language detection limit.
    detection_limit: ClassVar[str]
    #: Whether :meth:`fit` must run on history before :meth:`detect`.
    requires_fit: ClassVar[bool] = False
    #: One MBA's streams and profile, or a whole sensor network.
    scope: ClassVar[Scope] = "mba"
    #: Whether it runs when no detectors are named; opt-in detectors (``False``) run
    #: when named, or when a detector settings file gives their parameters.
    default: ClassVar[bool] = True

    def check_params(self) -> None:
        """Raise :class:`~vth.detectors.errors.DetectorConfigError` for invalid values.

        Settings files are checked with this before the service starts; detectors
        with constraints on their parameters override it.
        """

    def history_needed_h(self) -> float:
        """Hours of recent data the detector needs before it can detect anything.

        The service warns when its buffer keeps less; 0 for detectors that judge each
        window on its own.
        """
        return 0.0

    def _check_fitted(self) -> None:
        if self.requires_fit and not getattr(self, "is_fitted_", False):
            raise NotFittedError(f"detector {self.name!r} must be fitted on history before detect")

    @classmethod
    def capability(cls) -> Capability:
        """What the detector does, as the technology inventory lists it."""
        return Capability(
            name=cls.name,
            component="detector",
            technologies=cls.technologies,
            tasks=cls.tasks,
            inputs=cls.inputs,
            detection_limit=cls.detection_limit,
            obligations=cls.obligations,
        )

    @classmethod
    def describe(cls) -> dict[str, object]:
        """What the detector is for, for the inventory and the API."""
        return {
            "name": cls.name,
            "kind": cls.kind,
            "scope": cls.scope,
            "technologies": list(cls.technologies),
            "tasks": list(cls.tasks),
            "inputs": list(cls.inputs),
            "detection_limit": cls.detection_limit,
            "requires_fit": cls.requires_fit,
            "default": cls.default,
            "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
        }


class Detector(BaseDetector):
    """Base class of the detectors that judge one MBA's streams against its profile.

    Subclasses set the class attributes of :class:`BaseDetector` and implement
    :meth:`_detect`; registering them with :func:`vth.detectors.registry.register`
    makes them available by ``name`` to the CLI and the API.
    """

    scope: ClassVar[Scope] = "mba"

    def fit(self, dataset: xr.Dataset | None = None, profile: MbaProfile | None = None) -> Self:
        """Learn from history (a no-op for stateless detectors); returns ``self``."""
        self._fit(dataset, profile)
        self.is_fitted_ = True
        return self

    def detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Run on a ``(sensor, time)`` dataset of one MBA against its permitted profile."""
        self._check_fitted()
        return self._detect(dataset, profile)

    def fit_detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Fit on the dataset, then detect on it."""
        return self.fit(dataset, profile).detect(dataset, profile)

    def _fit(self, dataset: xr.Dataset | None, profile: MbaProfile | None) -> None:
        """Learn state from history; stateless detectors keep this no-op."""

    @abstractmethod
    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        """Find detections in one MBA's dataset; each detector writes this."""


class NetworkDetector(BaseDetector):
    """Base class of the detectors that look at a whole sensor network at once.

    The dataset holds the sensors of every MBA and public network (``mba_id`` says
    whose each sensor is, ``kind``/``lat``/``lon`` what and where it is); the
    :class:`~vth.sensing.network.Network` gives the candidate emission points.
    """

    scope: ClassVar[Scope] = "network"

    def fit(self, dataset: xr.Dataset, network: Network | None = None) -> Self:
        """Learn from history of the network's sensors; returns ``self``."""
        self._fit(dataset, network)
        self.is_fitted_ = True
        return self

    def detect(self, dataset: xr.Dataset, network: Network) -> list[Detection]:
        """Run on a ``(sensor, time)`` dataset of the network's sensors."""
        self._check_fitted()
        return self._detect(dataset, network)

    def fit_detect(self, dataset: xr.Dataset, network: Network) -> list[Detection]:
        """Fit on the dataset, then detect on it."""
        return self.fit(dataset, network).detect(dataset, network)

    def _fit(self, dataset: xr.Dataset, network: Network | None) -> None:
        """Learn state from history; stateless detectors keep this no-op."""

    @abstractmethod
    def _detect(self, dataset: xr.Dataset, network: Network) -> list[Detection]:
        """Find detections in the network's dataset; each detector writes this."""


class RasterDetector(BaseDetector):
    """Base class of the detectors that judge one image of an MBA's area against its profile.

    ``detect`` takes a scene, an :class:`xarray.DataArray` ``(band, y, x)`` with a
    projected CRS (see :mod:`vth.sensing.rasters`), cut around one MBA. Detections of
    things within the permit (a permitted flare at its usual temperature) have
    ``within_permit=True``: they are recorded, not alerted. ``fit`` may learn from a
    reference scene of the same area (e.g. a plume-free date for methane).
    """

    scope: ClassVar[Scope] = "raster"

    def fit(self, scene: xr.DataArray | None = None, profile: MbaProfile | None = None) -> Self:
        """Learn from a reference scene (a no-op for detectors without one); returns ``self``."""
        self._fit(scene, profile)
        self.is_fitted_ = True
        return self

    def detect(self, scene: xr.DataArray, profile: MbaProfile) -> list[Detection]:
        """Run on one scene of the MBA's area against its permitted profile."""
        self._check_fitted()
        return self._detect(scene, profile)

    def fit_detect(self, scene: xr.DataArray, profile: MbaProfile) -> list[Detection]:
        """Fit on the scene, then detect on it."""
        return self.fit(scene, profile).detect(scene, profile)

    def _fit(self, scene: xr.DataArray | None, profile: MbaProfile | None) -> None:
        """Learn state from a reference scene; detectors without one keep this no-op."""

    @abstractmethod
    def required_bands(self) -> tuple[str, ...]:
        """Band roles a scene must have for this detector to run on it."""

    @abstractmethod
    def _detect(self, scene: xr.DataArray, profile: MbaProfile) -> list[Detection]:
        """Find detections in one scene; each detector writes this."""
