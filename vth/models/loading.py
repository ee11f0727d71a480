"""Reading MBA profiles from YAML files, reporting every invalid field."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from vth.models.errors import FieldProblem, ProfileError
from vth.models.network import SensorNetwork
from vth.models.profile import REFERENCES_CHECKED, MbaProfile, reference_problems

PROFILE_SUFFIXES = (".yaml", ".yml")


def field_path(loc: Iterable[int | str]) -> str:
    """Render a pydantic error location as ``sources[0].limits[1].value``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems_from_validation(file: str, error: ValidationError) -> list[FieldProblem]:
    """One :class:`FieldProblem` per pydantic error, with the field path and reason."""
    problems = []
    for err in error.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            shown = repr(err["input"])
            if len(shown) <= 60:
                reason += f" (got {shown})"
        problems.append(FieldProblem(file, field_path(loc), reason))
    return problems


def parse_profile(data: Any, file: str = "<profile>") -> MbaProfile:
    """Validate already-parsed YAML/JSON data as an MBA profile."""
    if not isinstance(data, dict):
        raise ProfileError.single(file, "", "a profile must be a mapping of fields")
    problems = [FieldProblem(file, path, reason) for path, reason in reference_problems(data)]
    try:
        profile = MbaProfile.model_validate(data, context={REFERENCES_CHECKED: True})
    except ValidationError as exc:
        problems.extend(problems_from_validation(file, exc))
    if problems:
        raise ProfileError(problems)
    return profile


def load_profile(path: Path | str) -> MbaProfile:
    """Read and validate one profile YAML file.

    Raises
    ------
    ProfileError
        With the file, field path and reason of every problem.
    """
    path = Path(path)
    return parse_profile(_read_yaml(path), str(path))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError.single(path, "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError.single(path, where, f"not valid YAML: {problem}") from None
    return data


def profile_files(directory: Path | str) -> list[Path]:
    """The profile files in a directory (or the file itself), sorted."""
    directory = Path(directory)
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise ProfileError.single(directory, "", "no such profile file or directory")
    return sorted(p for p in directory.iterdir() if p.suffix in PROFILE_SUFFIXES)


def load_profiles(directory: Path | str) -> dict[str, MbaProfile]:
    """Read every profile in a directory, keyed by MBA id.

    All files are checked before failing, so one run reports every problem.

    Raises
    ------
    ProfileError
        Listing every invalid field of every file, and duplicate MBA ids.
    """
    files = profile_files(directory)
    if not files:
        raise ProfileError.single(directory, "", "no *.yaml or *.yml profiles found")
    return _load_each(files, load_profile, "MBA id")


_Identified = TypeVar("_Identified", MbaProfile, SensorNetwork)


def _load_each(
    files: list[Path], load: Callable[[Path], _Identified], what: str
) -> dict[str, _Identified]:
    """Load every file, keyed by id; every problem of every file in one error."""
    problems: list[FieldProblem] = []
    loaded: dict[str, _Identified] = {}
    origin: dict[str, Path] = {}
    for path in files:
        try:
            item = load(path)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        if item.id in loaded:
            reason = f"{what} {item.id!r} is also used by {origin[item.id]}"
            problems.append(FieldProblem(str(path), "id", reason))
            continue
        loaded[item.id] = item
        origin[item.id] = path
    if problems:
        raise ProfileError(problems)
    return loaded


def load_network(path: Path | str) -> SensorNetwork:
    """Read and validate one sensor network YAML file.

    Raises
    ------
    ProfileError
        With the file, field path and reason of every problem.
    """
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ProfileError.single(path, "", "a network file must be a mapping of fields")
    try:
        return SensorNetwork.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(problems_from_validation(str(path), exc)) from None


def load_networks(directory: Path | str) -> dict[str, SensorNetwork]:
    """Read every sensor network file in a directory, keyed by network id.

    Raises
    ------
    ProfileError
        Listing every invalid field of every file, and duplicate network ids.
    """
    return _load_each(profile_files(directory), load_network, "network id")


def load_deployment_networks(
    profiles_dir: Path | str, networks_dir: Path | str | None = None
) -> dict[str, SensorNetwork]:
    """The sensor networks of a deployment.

    Those of ``networks_dir``, else of the ``networks`` folder of ``profiles_dir`` when
    there is one, else none.
    """
    if networks_dir is None:
        default = Path(profiles_dir) / "networks"
        return load_networks(default) if default.is_dir() else {}
    return load_networks(networks_dir)
