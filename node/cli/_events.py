"""`camkeep events`: the system's event log, newest first."""

from __future__ import annotations

import argparse
import json

from node.cli._client import add_server_arguments, client_from_args, print_table, run_command
from node.cli._resolve import server_name, server_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    parser.add_argument("--type", help="only this event type (e.g. camera_taken_over)")
    parser.add_argument("--camera-id", help="only events of this camera")
    parser.add_argument("--server-id", help="only events of this server")
    parser.add_argument("--since", help="only events at or after this time (ISO 8601, UTC)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        params = {
            "type": args.type,
            "camera_id": args.camera_id,
            "server_id": args.server_id,
            "since": args.since,
            "limit": args.limit,
        }
        with client_from_args(args) as client:
            answer = client.request(
                "GET", "/api/v1/events", params={k: v for k, v in params.items() if v}
            )
            names = server_names(client)
        if args.json:
            print(json.dumps(answer["events"], indent=2))
            return 0
        print_table(
            ["time", "type", "server", "camera", "details"],
            [
                [
                    e["time"],
                    e["type"],
                    server_name(names, e["server_id"]),
                    (e["camera_id"] or "")[:8],
                    " ".join(
                        f"{k}={server_name(names, v) if k in ('from', 'to') else v}"
                        for k, v in e["details"].items()
                    ),
                ]
                for e in answer["events"]
            ],
        )
        return 0

    return run_command(body)
