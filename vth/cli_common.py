"""Consoles and error exits shared by the ``vth`` commands."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape


def console(stderr: bool = False) -> Console:
    """A console; tables written to files or pipes get 160 columns instead of 80."""
    made = Console(stderr=stderr, soft_wrap=True)
    if not made.is_terminal:
        made.width = 160
    return made


out = console()
err = console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise.

    The message is printed as it is: brackets in it (a pattern like ``[a-z]``, a list)
    are not read as console markup.
    """
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)
