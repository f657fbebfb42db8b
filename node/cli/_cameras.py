"""`camkeep cameras`: list, show, add, delete cameras and set their priority."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from node.cli._client import (
    ApiClient,
    CliError,
    add_server_arguments,
    client_from_args,
    print_table,
    run_command,
    with_spinner,
)
from node.cli._resolve import CAMERA, resolve_ids, resolve_one, server_name, server_names
from node.digits import is_digits
from node.system import Priority

PRIORITIES = tuple(p.value for p in Priority)


def set_priority(client: ApiClient, cameras: list[str], priority: str) -> list[dict[str, Any]]:
    """Set the failover priority of cameras named by id, id prefix or name; the cameras
    as changed (one call for all of them)."""
    ids = resolve_ids(client, CAMERA, cameras)
    body = {"camera_ids": ids, "priority": priority}
    return client.request("PUT", "/api/v1/cameras/priority", json=body)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list the system's cameras with their status")
    sub.add_parser("discovered", help="ONVIF cameras found by WS-Discovery near the server")
    show = sub.add_parser("show", help="one camera in detail (JSON)")
    show.add_argument("camera", help="camera id, id prefix or name")
    add = sub.add_parser("add", help="add a camera by ONVIF address or RTSP URL")
    add.add_argument("--name", required=True)
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--onvif", metavar="HOST[:PORT]", help="ONVIF device address (port 80 by default)"
    )
    source.add_argument("--rtsp", metavar="URL", help="rtsp://[user:password@]host[:port]/path")
    add.add_argument("--camera-user", help="camera user name (ONVIF)")
    add.add_argument("--camera-password", help="camera password (ONVIF)")
    add.add_argument(
        "--priority",
        choices=PRIORITIES,
        default="medium",
        help="failover priority (default medium)",
    )
    add.add_argument("--home", metavar="SERVER_ID", help="home server (default: the server asked)")
    add.add_argument("--no-continuous", action="store_true", help="do not record continuously")
    delete = sub.add_parser(
        "delete", help="delete a camera (its recordings stay on disk until retention)"
    )
    delete.add_argument("camera", help="camera id, id prefix or name")
    priority = sub.add_parser("priority", help="set the failover priority of cameras")
    priority.add_argument("priority", choices=PRIORITIES)
    priority.add_argument("cameras", nargs="+", help="camera ids, id prefixes or names")


def state_text(status: dict) -> str:
    """A camera's state, with "(stale 12s)" when its recording server has gone quiet."""
    if status.get("stale"):
        return f"{status['state']} (stale {status.get('age_s') or 0:.0f}s)"
    return status["state"]


def _onvif(address: str, user: str | None, password: str | None) -> dict:
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    if not host:
        host, port = address, ""
    if port and not is_digits(port):
        raise CliError(f"--onvif: {address!r} is not HOST[:PORT]")
    return {"host": host, "port": int(port) if port else 80, "username": user, "password": password}


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            if args.action == "list":
                cameras = client.request("GET", "/api/v1/cameras")
                names = server_names(client)
                print_table(
                    [
                        "id",
                        "name",
                        "state",
                        "priority",
                        "continuous",
                        "home",
                        "recorded on",
                        "fps",
                        "kbit/s",
                        "last error",
                    ],
                    [
                        [
                            c["id"][:8],
                            c["name"],
                            state_text(c["status"]),
                            c["priority"],
                            "yes" if c["continuous_recording"] else "no",
                            server_name(names, c["home_server_id"]),
                            server_name(names, c["recording_server_id"]),
                            c["status"]["fps"],
                            round(c["status"]["bitrate_bps"] / 1000),
                            c["status"]["last_error"] or c["status"].get("reason"),
                        ]
                        for c in cameras
                    ],
                )
            elif args.action == "discovered":
                client.login()
                found = with_spinner(
                    "probing for ONVIF cameras",
                    lambda: client.request("GET", "/api/v1/cameras/discovered"),
                )
                print_table(
                    ["name", "address", "hardware", "added"],
                    [
                        [c["name"], f"{c['host']}:{c['port']}", c["hardware"], c["already_added"]]
                        for c in found
                    ],
                )
            elif args.action == "show":
                camera_id = resolve_one(client, CAMERA, args.camera)["id"]
                json.dump(
                    client.request("GET", f"/api/v1/cameras/{camera_id}"), sys.stdout, indent=2
                )
                print()
            elif args.action == "add":
                request: dict = {
                    "name": args.name,
                    "priority": args.priority,
                    "continuous_recording": not args.no_continuous,
                }
                if args.home:
                    request["home_server_id"] = args.home
                if args.rtsp:
                    request["rtsp_url"] = args.rtsp
                else:
                    request["onvif"] = _onvif(args.onvif, args.camera_user, args.camera_password)
                client.login()
                camera = with_spinner(
                    f"adding camera {args.name!r}",
                    lambda: client.request("POST", "/api/v1/cameras", json=request),
                )
                name, stream = camera["name"], camera["stream_url"]
                print(f"camera {name!r} added: id {camera['id']}, stream {stream}")
            elif args.action == "delete":
                camera_id = resolve_one(client, CAMERA, args.camera)["id"]
                client.request("DELETE", f"/api/v1/cameras/{camera_id}")
                print(f"camera {args.camera!r} deleted")
            elif args.action == "priority":
                changed = set_priority(client, args.cameras, args.priority)
                print(f"{len(changed)} camera(s) set to priority {args.priority}")
        return 0

    return run_command(body)
