"""`camkeep setup`: create a system on an undefined node, with its owner account."""

from __future__ import annotations

import argparse
import getpass
import os

from node.cli._client import ApiClient, CliError, add_server_arguments, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, credentials=False)
    parser.add_argument("--system-name", required=True, help="name of the new system")
    parser.add_argument("--owner", required=True, help="owner's user name")
    parser.add_argument(
        "--password",
        default=os.environ.get("CAMKEEP_PASSWORD"),
        help="owner's password, at least 8 characters (env CAMKEEP_PASSWORD; asked when missing)",
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        password = args.password
        if password is None:
            password = getpass.getpass("owner password: ")
            if password != getpass.getpass("again: "):
                raise CliError("the passwords differ")
        with ApiClient(args.server) as client:
            answer = client.request(
                "POST",
                "/api/v1/system/setup",
                auth=False,
                json={
                    "system_name": args.system_name,
                    "owner": {"username": args.owner, "password": password},
                },
            )
        print(f"system {answer['system_name']!r} created (id {answer['system_id']})")
        print(f"server {answer['server_id']} is its first server; owner: {answer['owner']}")
        return 0

    return run_command(body)
