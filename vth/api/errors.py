"""Errors of the alert API and its store."""

from vth.errors import VthError


class StoreError(VthError):
    """The alert store cannot be reached or written."""
