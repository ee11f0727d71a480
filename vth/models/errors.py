"""Errors raised while reading domain models (profiles) from files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vth.errors import VthError


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: the file, the dotted field path and the reason."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.reason}"


class ProfileError(VthError):
    """One or more MBA profiles are invalid; ``problems`` lists every field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in MBA profiles:\n{lines}")

    @classmethod
    def single(cls, file: Path | str, path: str, reason: str) -> ProfileError:
        """Build the error for one problem."""
        return cls([FieldProblem(str(file), path, reason)])


class SettingsFileError(VthError):
    """An agency's settings file (LHSO rules, API keys, workflow) is unreadable or invalid."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in settings files:\n{lines}")
