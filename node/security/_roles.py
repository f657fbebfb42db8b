"""The roles of a system's users and what each may do."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    owner = "owner"
    admin = "admin"
    viewer = "viewer"


_RANK = {Role.viewer: 0, Role.admin: 1, Role.owner: 2}


def role_allows(role: Role | str, required: Role | str) -> bool:
    """True when `role` has at least the rights of `required`."""
    return _RANK[Role(role)] >= _RANK[Role(required)]
