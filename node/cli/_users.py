"""`camkeep users`: list, add and delete users (owner/admin)."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from node.cli._client import add_server_arguments, client_from_args, print_table, run_command
from node.cli._resolve import USER, resolve_one


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="list users and roles")
    add = sub.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    add.add_argument(
        "--new-password", required=True, help="the new user's password (at least 8 characters)"
    )
    delete = sub.add_parser("delete", help="delete a user")
    delete.add_argument("username")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            if args.action == "list":
                users = client.request("GET", "/api/v1/users")
                print_table(
                    ["user", "role", "created"],
                    [[u["username"], u["role"], u["created_at"]] for u in users],
                )
            elif args.action == "add":
                client.request(
                    "POST",
                    "/api/v1/users",
                    json={
                        "username": args.username,
                        "password": args.new_password,
                        "role": args.role,
                    },
                )
                print(f"user {args.username!r} added as {args.role}")
            else:
                username = resolve_one(client, USER, args.username)["username"]
                client.request("DELETE", f"/api/v1/users/{quote(username, safe='')}")
                print(f"user {args.username!r} deleted")
        return 0

    return run_command(body)
