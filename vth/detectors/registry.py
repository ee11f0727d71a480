"""Detectors registered by name, so the CLI and the API can find them.

Each module in :mod:`vth.detectors` registers its class with :func:`register`; the
registry imports the package's modules on first use, so adding a detector is adding
one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

from vth.detectors.base import BaseDetector
from vth.detectors.errors import UnknownDetectorError

D = TypeVar("D", bound=type[BaseDetector])

_REGISTRY: dict[str, type[BaseDetector]] = {}
_INFRASTRUCTURE = {"base", "registry", "errors", "tuning", "settings_file"}
_discovered = False


def register(cls: D) -> D:
    """Class decorator: register a detector under its ``name``."""
    name = cls.name
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"detector name {name!r} is taken by {existing.__module__}.{existing.__name__}"
        )
    _REGISTRY[name] = cls
    return cls


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    import vth.detectors as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _INFRASTRUCTURE and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True


def names() -> list[str]:
    """Names of all registered detectors, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> type[BaseDetector]:
    """The detector class registered under ``name``."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDetectorError(
            f"no detector named {name!r}; registered: {', '.join(sorted(_REGISTRY)) or 'none'}"
        ) from None


def create(name: str, **params: Any) -> BaseDetector:
    """A new detector instance of ``name`` with ``params``."""
    return get(name)(**params)
