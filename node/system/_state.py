"""The system's replicated state as domain operations over the record store.

Record kinds: "system" (key "system": id, name, secret), "user" (key = user name),
"server" (key = node id, with its failover settings), "camera" (key = camera id).
Methods are synchronous and small; the API runs the writing ones in a thread.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from node.replication import Record, RecordStore
from node.security import Role
from node.system._records import Priority, Server
from node.timefmt import utc_iso

SYSTEM_KEY = "system"


class StateError(Exception):
    """A domain rule refused an operation; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(StateError):
    status = 404


class Conflict(StateError):
    status = 409


class Invalid(StateError):
    status = 422


class Forbidden(StateError):
    status = 403


def utc_now_iso() -> str:
    return utc_iso(datetime.now(UTC), timespec="milliseconds")


class SystemState:
    def __init__(
        self, store: RecordStore, node_id: str, *, now_iso: Callable[[], str] = utc_now_iso
    ) -> None:
        self.store = store
        self.node_id = node_id
        self._now_iso = now_iso

    # ------------------------------------------------------------------ system

    def system(self) -> dict[str, Any] | None:
        return self.store.get("system", SYSTEM_KEY)

    def is_member(self) -> bool:
        return self.system() is not None and self.store.get("server", self.node_id) is not None

    def setup(
        self, system_name: str, owner: str, password_hash: str, server: dict[str, Any]
    ) -> dict[str, Any]:
        """Create the system with its owner and this node as first server."""
        if self.system() is not None:
            raise Conflict("this server already belongs to a system")
        now = self._now_iso()
        system = {
            "id": str(uuid.uuid4()),
            "name": system_name,
            "secret": secrets.token_hex(32),
            "created_at": now,
        }
        user = {
            "username": owner,
            "role": Role.owner.value,
            "password_hash": password_hash,
            "created_at": now,
        }
        self.store.put_many(
            [
                ("system", SYSTEM_KEY, system),
                ("user", owner, user),
                ("server", self.node_id, {**server, "id": self.node_id, "joined_at": now}),
            ]
        )
        return system

    # ------------------------------------------------------------------- users

    def user(self, username: str) -> dict[str, Any] | None:
        return self.store.get("user", username)

    def users(self) -> list[dict[str, Any]]:
        return self.store.values("user")

    def add_user(
        self, username: str, role: Role, password_hash: str, by_role: Role
    ) -> dict[str, Any]:
        if role == Role.owner:
            raise Forbidden("a system has one owner; create admin or viewer users")
        if role == Role.admin and by_role != Role.owner:
            raise Forbidden("only the owner may create admin users")
        if self.user(username) is not None:
            raise Conflict(f"user {username!r} exists")
        value = {
            "username": username,
            "role": role.value,
            "password_hash": password_hash,
            "created_at": self._now_iso(),
        }
        self.store.put("user", username, value)
        return value

    def delete_user(self, username: str, by_role: Role) -> None:
        user = self.user(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        if user["role"] == Role.owner:
            raise Forbidden("the owner cannot be deleted")
        if user["role"] == Role.admin and by_role != Role.owner:
            raise Forbidden("only the owner may delete admin users")
        self.store.delete("user", username)

    # ----------------------------------------------------------------- servers

    def servers(self) -> list[dict[str, Any]]:
        return self.store.values("server")

    def server(self, server_id: str) -> dict[str, Any] | None:
        return self.store.get("server", server_id)

    def refresh_self(self, name: str, url: str, licensed_channels: int) -> None:
        """Keep this node's server record in line with its configuration."""
        current = self.server(self.node_id)
        if current is None:
            return
        updated = {
            **current,
            "name": name,
            "url": url,
            "licensed_channels": licensed_channels,
            "max_cameras": min(Server.from_record(current).max_cameras, licensed_channels),
        }
        if updated != current:
            self.store.put("server", self.node_id, updated)

    def add_self(self, server: dict[str, Any]) -> Record:
        """Write this node's own server record (joining a system, or coming back after
        an offline detach); keeps `joined_at` when given."""
        value = {"joined_at": self._now_iso(), **server, "id": self.node_id}
        return self.store.put("server", self.node_id, value)

    def detach_records(self, server_id: str, camera_ids: list[str]) -> list[Record]:
        """Remove a server (and the given cameras) from the system: tombstones."""
        items: list[tuple[str, str, dict[str, Any] | None]] = [("server", server_id, None)]
        items += [("camera", camera_id, None) for camera_id in camera_ids]
        return self.store.put_many(items)

    def forget_system(self) -> None:
        """This node leaves its system: it forgets system, users, servers, cameras."""
        self.store.reset()

    def set_failover(self, server_id: str, enabled: bool, max_cameras: int) -> dict[str, Any]:
        server = self.server(server_id)
        if server is None:
            raise NotFound(f"no server {server_id!r}")
        licensed = Server.from_record(server).licensed_channels
        if max_cameras > licensed:
            raise Invalid(f"max_cameras: must be <= {licensed}, the server's licensed channels")
        updated = {**server, "failover_enabled": enabled, "max_cameras": max_cameras}
        self.store.put("server", server_id, updated)
        return updated

    # ----------------------------------------------------------------- cameras

    def cameras(self) -> list[dict[str, Any]]:
        return self.store.values("camera")

    def camera(self, camera_id: str) -> dict[str, Any] | None:
        return self.store.get("camera", camera_id)

    def add_camera(self, camera: dict[str, Any]) -> dict[str, Any]:
        home = camera["home_server_id"]
        server = self.server(home)
        if server is None:
            raise Invalid(f"home_server_id: no server {home!r} in this system")
        homed = sum(1 for c in self.cameras() if c.get("home_server_id") == home)
        licensed = Server.from_record(server).licensed_channels
        if homed >= licensed:
            raise Conflict(
                f"server {server.get('name', home)!r} has no free licensed channel"
                f" ({licensed} used)"
            )
        if any(c["name"] == camera["name"] for c in self.cameras()):
            raise Conflict(f"a camera named {camera['name']!r} exists")
        value = {**camera, "id": str(uuid.uuid4()), "created_at": self._now_iso()}
        self.store.put("camera", value["id"], value)
        return value

    def update_camera(self, camera_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        camera = self.camera(camera_id)
        if camera is None:
            raise NotFound(f"no camera {camera_id!r}")
        new_home = changes.get("home_server_id", camera.get("home_server_id"))
        if new_home != camera.get("home_server_id"):
            server = self.server(new_home)
            if server is None:
                raise Invalid(f"home_server_id: no server {new_home!r} in this system")
            homed = sum(1 for c in self.cameras() if c.get("home_server_id") == new_home)
            if homed >= Server.from_record(server).licensed_channels:
                raise Conflict(
                    f"server {server.get('name', new_home)!r} has no free licensed channel"
                )
        if "name" in changes and any(
            c["name"] == changes["name"] and c["id"] != camera_id for c in self.cameras()
        ):
            raise Conflict(f"a camera named {changes['name']!r} exists")
        updated = {**camera, **changes}
        self.store.put("camera", camera_id, updated)
        return updated

    def delete_camera(self, camera_id: str) -> None:
        if self.store.delete("camera", camera_id) is None:
            raise NotFound(f"no camera {camera_id!r}")

    def set_priority(self, camera_ids: list[str], priority: Priority) -> list[dict[str, Any]]:
        missing = [i for i in camera_ids if self.camera(i) is None]
        if missing:
            raise NotFound(
                f"no camera {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        items = [
            ("camera", i, {**self.camera(i), "priority": priority.value})
            for i in dict.fromkeys(camera_ids)
        ]
        return [r.value for r in self.store.put_many(items) if r.value is not None]
