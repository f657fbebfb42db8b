"""`camkeep webhooks` and `camkeep mqtt`: where the system sends its events."""

from __future__ import annotations

import argparse
import getpass

from node.cli._client import (
    CliError,
    add_server_arguments,
    client_from_args,
    print_table,
    run_command,
)


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the webhooks (secrets are never shown)")
    add = sub.add_parser("add", help="send events to a URL, signed with a secret")
    add.add_argument("url", help="http(s)://... receiving a POST per event")
    add.add_argument(
        "--secret", help="HMAC secret, at least 16 characters (asked for when not given)"
    )
    add.add_argument("--events", default="", help="comma-separated event types (default: all)")
    delete = sub.add_parser("delete", help="stop sending to a webhook")
    delete.add_argument("webhook", help="webhook id or id prefix")


def add_mqtt_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("show", help="the MQTT broker settings (the password is never shown)")
    set_ = sub.add_parser("set", help="send events and camera states to an MQTT broker")
    set_.add_argument("--host", required=True)
    set_.add_argument("--port", type=int, default=1883)
    set_.add_argument("--mqtt-user")
    set_.add_argument("--mqtt-password")
    set_.add_argument("--topic-prefix", help="default camkeep/<system name>")
    sub.add_parser("off", help="stop sending to MQTT")


def run_webhooks(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            if args.action == "list":
                hooks = client.request("GET", "/api/v1/webhooks")
                print_table(
                    ["id", "url", "events", "enabled", "failing"],
                    [
                        [
                            h["id"][:8],
                            h["url"],
                            ",".join(h["event_types"]) or "all",
                            h["enabled"],
                            h["failing"] or "",
                        ]
                        for h in hooks
                    ],
                )
            elif args.action == "add":
                secret = args.secret or getpass.getpass("webhook secret: ")
                types = [t.strip() for t in args.events.split(",") if t.strip()]
                hook = client.request(
                    "POST",
                    "/api/v1/webhooks",
                    json={"url": args.url, "secret": secret, "event_types": types},
                )
                print(f"webhook {hook['id']} added")
            else:
                hooks = client.request("GET", "/api/v1/webhooks")
                found = [h for h in hooks if h["id"].startswith(args.webhook)]
                if len(found) != 1:
                    raise CliError(f"{args.webhook!r} matches {len(found)} webhooks")
                client.request("DELETE", f"/api/v1/webhooks/{found[0]['id']}")
                print(f"webhook {found[0]['id']} deleted")
        return 0

    return run_command(body)


def run_mqtt(args: argparse.Namespace) -> int:
    def body() -> int:
        with client_from_args(args) as client:
            if args.action == "set":
                answer = client.request(
                    "PUT",
                    "/api/v1/notifications/mqtt",
                    json={
                        "host": args.host,
                        "port": args.port,
                        "username": args.mqtt_user,
                        "password": args.mqtt_password,
                        "topic_prefix": args.topic_prefix,
                    },
                )
            elif args.action == "off":
                client.request("DELETE", "/api/v1/notifications/mqtt")
                print("MQTT off")
                return 0
            else:
                answer = client.request("GET", "/api/v1/notifications/mqtt")
        if not answer["configured"]:
            print("MQTT: not configured")
            return 0
        user = f" as {answer['username']}" if answer["username"] else ""
        print(f"MQTT broker {answer['host']}:{answer['port']}{user}")
        print(f"topics      {answer['topic_prefix']}/events/<type>, .../cameras/<id>/state")
        state = "connected" if answer["connected"] else (answer["last_error"] or "connecting")
        print(f"state       {state} (from this server)")
        return 0

    return run_command(body)
