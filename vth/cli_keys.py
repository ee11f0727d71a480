"""``vth keys``: make API keys for the inspection workflow's roles."""

from __future__ import annotations

from typing import Annotated, get_args

import typer
import yaml

from vth.api.auth import ApiKey, Role, digest, new_key
from vth.cli_common import err, out
from vth.cli_common import fail as _fail

keys_app = typer.Typer(help="API keys: who may read, act on and submit alerts.")


@keys_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Who holds the key (a person or a system).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(get_args(Role))}.")] = "inspector",
    agency: Annotated[
        str | None,
        typer.Option(help="Limit the key to this agency's MBAs (required for inspectors)."),
    ] = None,
) -> None:
    """Make a key: prints the key once (give it to its holder) and the keys-file entry.

    Add the entry under ``keys:`` in the file named by VTH_API_KEYS_FILE; the file
    holds only the key's SHA-256, so the key itself is not kept anywhere.
    """
    key = new_key()
    try:
        entry = ApiKey.model_validate(
            {"name": name, "role": role, "agency": agency, "key_sha256": digest(key)}
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    err.print(f"key for {name} ({role}); shown once, give it to its holder:")
    out.print(key, highlight=False, soft_wrap=True)
    err.print("entry for the keys file (under 'keys:'):")
    text = yaml.safe_dump([entry.model_dump(exclude_none=True)], sort_keys=False)
    err.print(text.rstrip(), highlight=False)
