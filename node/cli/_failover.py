"""`camkeep failover`: the failover view, priorities of several cameras, server settings.

camkeep failover show                         servers and every camera's priority
camkeep failover set-priority high CAM...     cameras by id, id prefix or name
camkeep failover settings SERVER --enable --max-cameras 32
"""

from __future__ import annotations

import argparse
from typing import Any

from node.cli._cameras import PRIORITIES, set_priority
from node.cli._client import (
    add_server_arguments,
    client_from_args,
    print_table,
    run_command,
)
from node.cli._resolve import SERVER, resolve_one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("show", help="servers' failover settings and every camera's priority")
    prio = sub.add_parser("set-priority", help="set the priority of one or more cameras")
    prio.add_argument("priority", choices=PRIORITIES)
    prio.add_argument("cameras", nargs="+", metavar="CAMERA", help="camera id, id prefix or name")
    settings = sub.add_parser("settings", help="enable/disable failover, max cameras of a server")
    settings.add_argument("target", metavar="SERVER", help="server id, id prefix or name")
    state = settings.add_mutually_exclusive_group()
    state.add_argument("--enable", action="store_true")
    state.add_argument("--disable", action="store_true")
    settings.add_argument("--max-cameras", type=int, help="max cameras (default: unchanged)")


def _show(view: dict[str, Any]) -> None:
    names = {s["id"]: s["name"] or s["id"][:8] for s in view["servers"]}
    print_table(
        ["server", "state", "failover", "max cams", "licensed", "planned"],
        [
            [
                names[s["id"]],
                s["state"],
                "on" if s["failover_enabled"] else "off",
                s["max_cameras"],
                s["licensed_channels"],
                s["planned_cameras"],
            ]
            for s in view["servers"]
        ],
    )
    print()
    print_table(
        ["camera", "id", "home", "priority", "continuous", "planned on"],
        [
            [
                c["name"],
                c["id"][:8],
                names.get(c["home_server_id"], c["home_server_id"]),
                c["priority"],
                "yes" if c["continuous_recording"] else "no",
                names.get(c["planned_server_id"], c["planned_server_id"])
                if c["planned_server_id"]
                else f"nobody ({c['unplaced_reason'] or 'not planned yet'})",
            ]
            for c in view["cameras"]
        ],
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            if args.action == "show":
                _show(client.request("GET", "/api/v1/failover"))
            elif args.action == "set-priority":
                changed = set_priority(client, args.cameras, args.priority)
                for camera in changed:
                    print(f"{camera['name']}: priority {camera['priority']}")
            else:
                server = resolve_one(client, SERVER, args.target)
                enabled = server["failover_enabled"]
                if args.enable or args.disable:
                    enabled = bool(args.enable)
                max_cameras = (
                    server["max_cameras"] if args.max_cameras is None else args.max_cameras
                )
                updated = client.request(
                    "PUT",
                    f"/api/v1/servers/{server['id']}/failover",
                    json={"enabled": enabled, "max_cameras": max_cameras},
                )
                state = "on" if updated["failover_enabled"] else "off"
                print(
                    f"server {updated['name']}: failover {state},"
                    f" max cameras {updated['max_cameras']}"
                )
        return 0

    return run_command(body)
