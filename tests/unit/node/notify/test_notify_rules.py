"""Webhook signatures, sinks from records, backoff, who sends a writer's events."""

from __future__ import annotations

from node.notify import (
    MqttSettings,
    Webhook,
    backoff_s,
    default_prefix,
    deliverer,
    signature,
    signature_valid,
)


def test_signature_checks_out_and_any_change_breaks_it() -> None:
    body = b'{"id":"a:1"}'
    mac = signature("s3cret-s3cret-s3cret", 1_700_000_000, body)
    assert mac.startswith("sha256=") and len(mac) == 7 + 64
    ok = signature_valid("s3cret-s3cret-s3cret", "1700000000", body, mac, now=1_700_000_010)
    assert ok
    assert not signature_valid("other-secret-000000", "1700000000", body, mac, now=1_700_000_010)
    assert not signature_valid(
        "s3cret-s3cret-s3cret", "1700000000", body + b" ", mac, now=1_700_000_010
    )
    assert not signature_valid("s3cret-s3cret-s3cret", "1700000000", body, mac, now=1_700_009_000)
    assert not signature_valid("s3cret-s3cret-s3cret", "x", body, mac, now=1_700_000_010)
    assert not signature_valid("s3cret-s3cret-s3cret", "²", body, mac, now=1_700_000_010)


def test_webhook_takes_its_types_written_since_it_was_made() -> None:
    hook = Webhook.from_record(
        {
            "id": "w",
            "url": "http://x/",
            "secret": "s" * 16,
            "event_types": ["server_dead"],
            "created_at_ms": 100,
        }
    )
    assert hook is not None and hook.sink == "webhook:w"
    assert hook.wants("server_dead", 100)
    assert not hook.wants("server_dead", 99)
    assert not hook.wants("camera_online", 200)
    every = Webhook.from_record({"id": "v", "url": "http://x/", "secret": "s" * 16})
    assert every is not None and every.wants("camera_online", 0)
    assert Webhook.from_record({"id": "bad"}) is None


def test_mqtt_topics() -> None:
    settings = MqttSettings.from_record({"host": "127.0.0.1"}, "Main Site #1")
    assert settings is not None and settings.port == 1883
    assert default_prefix("Main Site #1") == "camkeep/main-site-1"
    assert settings.event_topic("server_dead") == "camkeep/main-site-1/events/server_dead"
    assert settings.state_topic("cam") == "camkeep/main-site-1/cameras/cam/state"
    assert MqttSettings.from_record(None, "x") is None


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_s(30) == 60


def test_the_writer_sends_while_alive_then_the_lowest_alive_server() -> None:
    alive = frozenset({"b", "c"})
    assert deliverer("b", alive, "c") == "b"
    assert deliverer("a", alive, "c") == "b"  # a is dead: b is its deputy
    assert deliverer("c", frozenset(), "c") == "c"  # always our own
