"""What the user typed (a name, an id or the start of an id) to the record it means.

    (camera_id,) = resolve_ids(client, CAMERA, [args.camera])
    server = resolve_one(client, SERVER, args.server_id)

One rule for every command, tried in order: the exact id; else the exact name; else,
for kinds whose ids are long random strings, the ids starting with what was typed.
Each step must give exactly one record: no match is "no camera 'x'", two names or
prefixes alike are an ambiguity the user must settle with a full id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from node.cli._client import ApiClient, CliError


@dataclass(frozen=True)
class Kind:
    noun: str  # in messages: "no camera 'x'"
    path: str  # the API list of all of them
    id_field: str
    name_field: str
    id_prefix: bool  # may an id be shortened (as the tables print it)?


CAMERA = Kind("camera", "/api/v1/cameras", "id", "name", id_prefix=True)
SERVER = Kind("server", "/api/v1/servers", "id", "name", id_prefix=True)
USER = Kind("user", "/api/v1/users", "username", "username", id_prefix=False)


def match(items: Sequence[dict[str, Any]], kind: Kind, wanted: str) -> dict[str, Any]:
    """The one item `wanted` means (see the module docstring); CliError otherwise."""
    if wanted:
        for candidates in (
            [i for i in items if i.get(kind.id_field) == wanted],
            [i for i in items if i.get(kind.name_field) == wanted],
            [i for i in items if kind.id_prefix and str(i.get(kind.id_field)).startswith(wanted)],
        ):
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                ids = ", ".join(str(i.get(kind.id_field)) for i in candidates)
                raise CliError(
                    f"{wanted!r} matches {len(candidates)} {kind.noun}s ({ids}): give the id"
                )
    raise CliError(f"no {kind.noun} {wanted!r}")


def resolve(client: ApiClient, kind: Kind, wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The records `wanted` means, in order (one listing request for all of them)."""
    items = client.request("GET", kind.path)
    return [match(items, kind, text) for text in wanted]


def resolve_ids(client: ApiClient, kind: Kind, wanted: Sequence[str]) -> list[str]:
    """Their ids, in order, each once."""
    ids = (str(record[kind.id_field]) for record in resolve(client, kind, wanted))
    return list(dict.fromkeys(ids))


def resolve_one(client: ApiClient, kind: Kind, wanted: str) -> dict[str, Any]:
    (record,) = resolve(client, kind, [wanted])
    return record


def server_names(client: ApiClient) -> dict[str, str]:
    """Server id -> name, for tables that name servers."""
    return {s["id"]: s["name"] for s in client.request("GET", "/api/v1/servers")}


def server_name(names: dict[str, str], server_id: str | None) -> str:
    """A server's name (its id's start when the system no longer knows it)."""
    if server_id is None:
        return ""
    return names.get(server_id) or server_id[:8]
