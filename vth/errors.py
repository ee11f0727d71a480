"""The common base of every error vth-sensing raises on purpose."""


class VthError(Exception):
    """Base class of all vth-sensing errors."""
