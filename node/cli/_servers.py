"""`camkeep servers`: list the system's servers and the undefined ones seen; add an
undefined server; detach a server; failover settings; join tokens for auto-join."""

from __future__ import annotations

import argparse
import sys
import time

from node.cli._client import (
    ApiClient,
    CliError,
    add_server_arguments,
    client_from_args,
    human_bytes,
    print_table,
    run_command,
)
from node.cli._resolve import SERVER, resolve_one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="servers with state, failover settings, channels and load")
    discovered = sub.add_parser(
        "discovered", help="undefined servers seen on the LAN (mDNS) or as static peers"
    )
    discovered.add_argument(
        "--all", action="store_true", help="list servers of other systems instead"
    )
    add = sub.add_parser("add", help="add an undefined server (needs the owner's password)")
    add.add_argument("url", help="the undefined server's API URL, http://HOST:PORT")
    add.add_argument(
        "--owner-user", help="the system owner's user name (default: --user)", default=None
    )
    add.add_argument(
        "--owner-password", help="the owner's password (default: --password)", default=None
    )
    detach = sub.add_parser(
        "detach", help="detach a server (owner only; confirms after a 5-second wait)"
    )
    detach.add_argument("server_id", help="server id, id prefix or name")
    choice = detach.add_mutually_exclusive_group(required=True)
    choice.add_argument("--keep-cameras", action="store_true", help="its cameras stay")
    choice.add_argument("--remove-cameras", action="store_true", help="its cameras are removed")
    token = sub.add_parser("join-token", help="mint a join token for --join-token (owner only)")
    token.add_argument(
        "--ttl", type=float, default=3600.0, metavar="SECONDS", help="validity (default 1 h)"
    )
    failover = sub.add_parser(
        "failover", help="enable/disable failover and set max cameras of a server"
    )
    failover.add_argument("server_id", help="server id, id prefix or name")
    state = failover.add_mutually_exclusive_group(required=True)
    state.add_argument("--enable", action="store_true")
    state.add_argument("--disable", action="store_true")
    failover.add_argument(
        "--max-cameras", type=int, help="max cameras on this server (default: unchanged)"
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            action = ACTIONS[args.action]
            return action(client, args)

    return run_command(body)


def _list(client: ApiClient, args: argparse.Namespace) -> int:
    servers = client.request("GET", "/api/v1/servers")
    print_table(
        ["id", "name", "url", "state", "failover", "max cams", "used", "cpu %", "disk free"],
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


def _discovered(client: ApiClient, args: argparse.Namespace) -> int:
    rows = client.request("GET", "/api/v1/servers/discovered", params={"all": args.all})
    headers = ["id", "name", "url"] + (["system"] if args.all else [])
    print_table(
        headers,
        [[r["id"], r["name"], r["url"]] + ([r["system_id"]] if args.all else []) for r in rows],
    )
    return 0


def _add(client: ApiClient, args: argparse.Namespace) -> int:
    owner = args.owner_user or args.user
    password = args.owner_password if args.owner_password is not None else args.password
    if not owner or password is None:
        raise CliError("give --owner-user and --owner-password (the system owner's account)")
    server = client.request(
        "POST",
        "/api/v1/servers",
        json={"url": args.url, "owner_username": owner, "owner_password": password},
    )
    print(f"added server {server['name']} ({server['id']}) at {server['url']}")
    return 0


def _detach(client: ApiClient, args: argparse.Namespace) -> int:
    server = resolve_one(client, SERVER, args.server_id)
    keep = bool(args.keep_cameras)
    path = f"/api/v1/servers/{server['id']}/detach"
    plan = client.request("POST", path, json={"keep_cameras": keep, "dry_run": True})
    print(f"detach server {server['name']} ({server['id']}): {plan['summary']}")
    for warning in plan["warnings"]:
        print(f"WARNING: {warning}")
    print("press Ctrl-C to cancel", file=sys.stderr)
    for left in range(5, 0, -1):  # a detach is confirmed only after a 5-second wait
        print(f"\rdetaching in {left} s ", end="", file=sys.stderr, flush=True)
        time.sleep(1.0)
    print("", file=sys.stderr)
    time.sleep(0.3)  # the server's clock decides: be safely past the 5 s
    client.request(
        "POST", path, json={"keep_cameras": keep, "confirm_token": plan["confirm_token"]}
    )
    print(f"server {server['name']} detached: it is an undefined server now")
    return 0


def _join_token(client: ApiClient, args: argparse.Namespace) -> int:
    answer = client.request("POST", "/api/v1/system/join-tokens", json={"ttl_s": args.ttl})
    print(answer["token"])
    print(f"valid until {answer['expires_at']}", file=sys.stderr)
    return 0


def _failover(client: ApiClient, args: argparse.Namespace) -> int:
    server = resolve_one(client, SERVER, args.server_id)
    max_cameras = server["max_cameras"] if args.max_cameras is None else args.max_cameras
    updated = client.request(
        "PUT",
        f"/api/v1/servers/{server['id']}/failover",
        json={"enabled": bool(args.enable), "max_cameras": max_cameras},
    )
    state = "on" if updated["failover_enabled"] else "off"
    print(f"server {updated['name']}: failover {state}, max cameras {updated['max_cameras']}")
    return 0


ACTIONS = {
    "list": _list,
    "discovered": _discovered,
    "add": _add,
    "detach": _detach,
    "join-token": _join_token,
    "failover": _failover,
}
