"""Where events go: webhooks and the MQTT broker, as the system's replicated records
describe them (kinds `webhook`, key its id, and `mqtt`, key `mqtt`), and the rules of
a sink (which events it takes, the backoff between tries) as pure functions.

Secrets (a webhook's, the broker password) live only in the records: the API shows
`has_secret`/`has_password`, logs never name them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WEBHOOK_KIND = "webhook"
MQTT_KIND = "mqtt"
MQTT_KEY = "mqtt"
MQTT_SINK = "mqtt"
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_ATTEMPTS = 30  # then the event is given up for that sink (logged, counted)


def webhook_sink(webhook_id: str) -> str:
    return f"webhook:{webhook_id}"


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    secret: str
    event_types: frozenset[str]  # empty: every type
    enabled: bool
    created_at_ms: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Webhook | None:
        url, secret = record.get("url"), record.get("secret")
        if not isinstance(url, str) or not isinstance(secret, str):
            return None
        types = record.get("event_types") or []
        return cls(
            id=str(record.get("id", "")),
            url=url,
            secret=secret,
            event_types=frozenset(t for t in types if isinstance(t, str)),
            enabled=record.get("enabled", True) is not False,
            created_at_ms=int(record.get("created_at_ms") or 0),
        )

    @property
    def sink(self) -> str:
        return webhook_sink(self.id)

    def wants(self, event_type: str, at_ms: int) -> bool:
        """A webhook takes the types it names (all when none), written since it was made."""
        if at_ms < self.created_at_ms:
            return False
        return not self.event_types or event_type in self.event_types


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    topic_prefix: str
    enabled: bool
    created_at_ms: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None, system_name: str) -> MqttSettings | None:
        if not record or not isinstance(record.get("host"), str):
            return None
        prefix = record.get("topic_prefix")
        return cls(
            host=record["host"],
            port=int(record.get("port") or 1883),
            username=record.get("username") or None,
            password=record.get("password") or None,
            topic_prefix=prefix
            if isinstance(prefix, str) and prefix
            else default_prefix(system_name),
            enabled=record.get("enabled", True) is not False,
            created_at_ms=int(record.get("created_at_ms") or 0),
        )

    def event_topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}/events/{event_type}"

    def state_topic(self, camera_id: str) -> str:
        return f"{self.topic_prefix}/cameras/{camera_id}/state"


def topic_word(text: str) -> str:
    """A topic level from a name: no wildcards or separators, no spaces."""
    word = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower()
    return word or "system"


def default_prefix(system_name: str) -> str:
    return f"camkeep/{topic_word(system_name)}"


def backoff_s(attempt: int) -> float:
    """Wait before try `attempt + 1` (attempt counts failures so far): 1, 2, 4 ... 60 s."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))


def deliverer(origin: str, alive: frozenset[str], self_id: str) -> str | None:
    """Who sends `origin`'s events: the writer while it is alive, else the alive server
    with the lowest id (the writer's deputy). Every node computes it alike."""
    if origin in alive or origin == self_id:
        return origin
    return min(alive) if alive else None
