"""The technology catalogue: the shipped one, or an agency's own YAML file."""

from __future__ import annotations

from pathlib import Path

from vth.models.inventory import Catalogue
from vth.models.yamlfile import read_yaml_model

#: The catalogue shipped with the toolkit (seeded from the 2025 national inventory).
SHIPPED = Path(__file__).with_name("catalogue.yaml")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read a catalogue; the shipped one when ``path`` is None.

    Raises
    ------
    SettingsFileError
        When the file cannot be read or is invalid (field path and reason), e.g. a
        technology naming a task the catalogue does not list.
    """
    return read_yaml_model(path or SHIPPED, Catalogue, "technology catalogue")
