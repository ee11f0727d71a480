"""vth-sensing: sensor and image monitoring of permitted activities (MBA).

Data flows one way: gateway -> sensing dataset -> detector -> detection -> alert ->
store -> forwarding / API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vth-sensing")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
