"""`camkeep recordings`: a camera's recorded periods over a time range."""

from __future__ import annotations

import argparse

from node.cli._client import add_server_arguments, client_from_args, print_table, run_command
from node.cli._resolve import CAMERA, resolve_one, server_name, server_names
from node.cli._timerange import add_range_arguments, range_params, time_range
from node.timefmt import parse_utc_iso


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    parser.add_argument("camera", help="camera id, id prefix or name")
    add_range_arguments(parser, "1h")


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        start, end = time_range(args)
        with client_from_args(args) as client:
            camera_id = resolve_one(client, CAMERA, args.camera)["id"]
            answer = client.request(
                "GET",
                f"/api/v1/cameras/{camera_id}/recordings",
                params=range_params(start, end),
            )
            names = server_names(client)
        rows = []
        for period in answer["periods"]:
            begin = parse_utc_iso(period["start"], naive_is_utc=True)
            finish = parse_utc_iso(period["end"], naive_is_utc=True)
            rows.append(
                [
                    period["start"],
                    period["end"],
                    f"{(finish - begin).total_seconds():.1f}",
                    server_name(names, period["server_id"]),
                ]
            )
        print_table(["start", "end", "seconds", "server"], rows)
        return 0

    return run_command(body)
