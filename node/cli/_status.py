"""`camkeep status`: the system at a glance."""

from __future__ import annotations

import argparse
import json

from node.cli._client import add_server_arguments, client_from_args, print_table, run_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def days(value: float | None) -> str:
    return "unknown (not writing)" if value is None else f"{value:g} days"


def clock_lines(status: dict) -> list[str]:
    """A line for this server's clock when it is the one off, and one per server whose
    clock is skewed or refused (as the server answering sees them)."""
    lines = []
    if status.get("clock_warning"):
        lines.append(f"clock       {status['clock_warning']}")
    for server in status.get("servers", []):
        if server.get("clock") in ("skewed", "refused") and server.get("clock_warning"):
            state, text = server["clock"], server["clock_warning"]
            lines.append(f"clock       {server['name']} ({state}): {text}")
    return lines


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            status = client.request("GET", "/api/v1/status")
        if args.json:
            print(json.dumps(status, indent=2))
            return 0
        print(f"system      {status['system_name']}")
        print(f"servers     {status['servers_up']}/{status['servers_total']} up")
        print(
            f"cameras     {status['cameras_recording']}/{status['cameras_total']} recording, "
            f"{status['cameras_on_backup']} on a backup, "
            f"{len(status['cameras_not_recorded'])} not recorded"
        )
        for camera in status["cameras_not_recorded"]:
            print(f"            - {camera['name']}: {camera['reason'] or 'not recording yet'}")
        print(f"gaps (24 h) {status['gaps_24h']} ({status['gap_seconds_24h']:g} s)")
        print(f"disk left   {days(status['disk_days_left'])} at the current write rate")
        for line in clock_lines(status):
            print(line)
        print()
        print_table(
            ["server", "state", "recording", "disk free GB", "write MB/s", "days left"],
            [
                [
                    s["name"],
                    s["state"],
                    s["cameras_recording"],
                    "" if s["disk_free_bytes"] is None else round(s["disk_free_bytes"] / 1e9, 1),
                    round(s["write_bytes_per_s"] / 1e6, 2),
                    "" if s["disk_days_left"] is None else s["disk_days_left"],
                ]
                for s in status["servers"]
            ],
        )
        return 0

    return run_command(body)
