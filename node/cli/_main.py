"""`camkeep` command line: one sub-command per job, each defined in its own module.

A command module offers `add_arguments(parser)` and `run(args) -> int`; it is
imported only when its command runs, so `camkeep --help` stays fast and a command
never pays for another's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from node import __version__

# name -> (module, one-line help). The module is imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "emulate": ("emulator.cli", "start emulated ONVIF/RTSP cameras"),
    "run": ("node.cli._run", "start a recording node"),
    "demo": (
        "node.cli._demo",
        "start emulated cameras and three recording nodes as one system, failover on",
    ),
    "setup": ("node.cli._setup", "create a system with its owner on an undefined node"),
    "cameras": ("node.cli._cameras", "list, add, delete cameras; set their priority"),
    "recordings": ("node.cli._recordings", "a camera's recorded periods"),
    "export": ("node.cli._export", "save a camera's recordings over a range as one MP4"),
    "servers": (
        "node.cli._servers",
        "list, add, detach servers; failover settings; join tokens",
    ),
    "failover": (
        "node.cli._failover",
        "failover view, camera priorities, server failover settings",
    ),
    "users": ("node.cli._users", "list, add, delete users"),
    "status": ("node.cli._status", "the system at a glance: servers, cameras, gaps, disk"),
    "events": ("node.cli._events", "the system's event log, newest first"),
    "webhooks": ("node.cli._webhooks", "webhooks that receive every event, signed"),
    "mqtt": ("node.cli._mqtt", "the MQTT broker events and camera states go to"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camkeep",
        description="camkeep: IP camera recording server with built-in failover",
    )
    parser.add_argument("--version", action="version", version=f"camkeep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # only the command that runs imports its module
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
