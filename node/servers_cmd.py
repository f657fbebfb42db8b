"""`camkeep servers`: list the system's servers; change a server's failover settings."""

from __future__ import annotations

import argparse

from node.client import (
    CliError,
    add_server_arguments,
    client_from_args,
    human_bytes,
    print_table,
    run_command,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="servers with state, failover settings, channels and load")
    failover = sub.add_parser(
        "failover", help="enable/disable failover and set max cameras of a server"
    )
    failover.add_argument("server_id", help="server id (or name)")
    state = failover.add_mutually_exclusive_group(required=True)
    state.add_argument("--enable", action="store_true")
    state.add_argument("--disable", action="store_true")
    failover.add_argument(
        "--max-cameras", type=int, help="max cameras on this server (default: unchanged)"
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            servers = client.request("GET", "/api/v1/servers")
            if args.action == "list":
                print_table(
                    [
                        "id",
                        "name",
                        "url",
                        "state",
                        "failover",
                        "max cams",
                        "used",
                        "cpu %",
                        "disk free",
                    ],
                    [
                        [
                            s["id"][:8],
                            s["name"],
                            s["url"],
                            s["state"],
                            "on" if s["failover_enabled"] else "off",
                            s["max_cameras"],
                            s["channels_used"],
                            s["load"].get("cpu_percent"),
                            human_bytes(s["load"]["disk_free_bytes"])
                            if "disk_free_bytes" in s["load"]
                            else None,
                        ]
                        for s in servers
                    ],
                )
                return 0
            matches = [
                s
                for s in servers
                if args.server_id in (s["id"], s["name"]) or s["id"].startswith(args.server_id)
            ]
            if len(matches) != 1:
                raise CliError(f"no single server matches {args.server_id!r}")
            server = matches[0]
            max_cameras = server["max_cameras"] if args.max_cameras is None else args.max_cameras
            updated = client.request(
                "PUT",
                f"/api/v1/servers/{server['id']}/failover",
                json={"enabled": bool(args.enable), "max_cameras": max_cameras},
            )
            state = "on" if updated["failover_enabled"] else "off"
            print(
                f"server {updated['name']}: failover {state}, max cameras {updated['max_cameras']}"
            )
        return 0

    return run_command(body)
