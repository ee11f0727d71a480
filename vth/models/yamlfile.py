"""Reading an agency's YAML settings files (LHSO rules, API keys, workflow) into models."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from vth.models.errors import FieldProblem, SettingsFileError

M = TypeVar("M", bound=BaseModel)


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_yaml_model(
    path: Path, model: type[M], what: str, *, environ: Mapping[str, str] | None = None
) -> M:
    """Validate a YAML file as ``model``.

    Parameters
    ----------
    path
        The file; an empty file gives the model's defaults.
    model
        The pydantic model the file holds.
    what
        What the file is, for messages (e.g. "LHSO rules").
    environ
        When given, ``${NAME}`` in string
        values is replaced by ``environ[NAME]``, so secrets stay out of the file.

    Raises
    ------
    SettingsFileError
        When the file cannot be read or a field is invalid (every problem with its
        field path; input values are not shown, as they may be secrets).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        problem = FieldProblem(str(path), "", f"cannot read the {what}: {exc}")
        raise SettingsFileError([problem]) from None
    if environ is not None:
        unset: list[str] = []
        data = _expand(data, environ, unset)
        if unset:
            problem = FieldProblem(
                str(path), "", f"environment variables not set: {', '.join(sorted(set(unset)))}"
            )
            raise SettingsFileError([problem])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            FieldProblem(str(path), ".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors(include_input=False)
        ]
        raise SettingsFileError(problems) from None


def _expand(value: Any, environ: Mapping[str, str], unset: list[str]) -> Any:
    """Replace ``${NAME}`` in every string of a YAML tree; collect the names not set."""
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                unset.append(name)
                return ""
            return environ[name]

        return _ENV_REFERENCE.sub(lookup, value)
    if isinstance(value, dict):
        return {k: _expand(v, environ, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ, unset) for v in value]
    return value
