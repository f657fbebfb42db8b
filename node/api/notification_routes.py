"""Notifications: webhooks (admins add and remove them) and the MQTT broker. Secrets
and passwords are written, never shown: answers say `has_secret`/`has_password`."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Response

from node.api.errors import ApiError, error_responses
from node.api.models import MqttIn, MqttOut, WebhookIn, WebhookOut
from node.api.security import Admin, Node
from node.app import NodeRuntime
from node.events import EVENT_TYPES
from node.notify import MQTT_KEY, MQTT_KIND, WEBHOOK_KIND, webhook_sink
from node.timefmt import utc_iso

USER_ERRORS = error_responses(401, 403, 404, 409, 422)
router = APIRouter(prefix="/api/v1", tags=["notifications"])
MAX_WEBHOOKS = 50


def webhook_out(node: NodeRuntime, record: dict[str, Any]) -> WebhookOut:
    return WebhookOut(
        id=str(record.get("id")),
        url=str(record.get("url")),
        event_types=list(record.get("event_types") or []),
        enabled=record.get("enabled", True) is not False,
        has_secret=bool(record.get("secret")),
        created_at=record.get("created_at"),
        failing=node.event_log.delivery.failing.get(webhook_sink(str(record.get("id")))),
    )


@router.get("/webhooks", response_model=list[WebhookOut], responses=USER_ERRORS)
async def list_webhooks(node: Node, _caller: Admin) -> list[WebhookOut]:
    return [webhook_out(node, r) for r in node.state.store.values(WEBHOOK_KIND)]


@router.post("/webhooks", status_code=201, response_model=WebhookOut, responses=USER_ERRORS)
async def add_webhook(body: WebhookIn, node: Node, _caller: Admin) -> WebhookOut:
    unknown = sorted(set(body.event_types) - EVENT_TYPES)
    if unknown:
        raise ApiError(422, f"unknown event types: {', '.join(unknown)}")
    if len(node.state.store.values(WEBHOOK_KIND)) >= MAX_WEBHOOKS:
        raise ApiError(409, f"a system has at most {MAX_WEBHOOKS} webhooks")
    now = time.time()
    record = {
        "id": str(uuid.uuid4()),
        "url": body.url,
        "secret": body.secret,
        "event_types": sorted(set(body.event_types)),
        "enabled": body.enabled,
        "created_at": utc_iso(now, timespec="milliseconds"),
        "created_at_ms": int(now * 1000),
    }
    await node.write(node.state.store.put, WEBHOOK_KIND, record["id"], record)
    return webhook_out(node, record)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=USER_ERRORS)
async def delete_webhook(webhook_id: str, node: Node, _caller: Admin) -> Response:
    if node.state.store.get(WEBHOOK_KIND, webhook_id) is None:
        raise ApiError(404, f"no webhook {webhook_id!r}")
    await node.write(node.state.store.delete, WEBHOOK_KIND, webhook_id)
    return Response(status_code=204)


def mqtt_out(node: NodeRuntime) -> MqttOut:
    record = node.state.store.get(MQTT_KIND, MQTT_KEY)
    settings = node.event_log.mqtt_settings()
    if record is None or settings is None:
        return MqttOut(configured=False)
    publisher = node.event_log.mqtt
    return MqttOut(
        configured=True,
        host=settings.host,
        port=settings.port,
        username=settings.username,
        has_password=bool(settings.password),
        topic_prefix=settings.topic_prefix,
        enabled=settings.enabled,
        connected=publisher.connected.is_set(),
        last_error=publisher.last_error,
    )


@router.get("/notifications/mqtt", response_model=MqttOut, responses=USER_ERRORS)
async def get_mqtt(node: Node, _caller: Admin) -> MqttOut:
    return mqtt_out(node)


@router.put("/notifications/mqtt", response_model=MqttOut, responses=USER_ERRORS)
async def set_mqtt(body: MqttIn, node: Node, _caller: Admin) -> MqttOut:
    old = node.state.store.get(MQTT_KIND, MQTT_KEY) or {}
    record = {
        **body.model_dump(),
        "created_at_ms": old.get("created_at_ms") or int(time.time() * 1000),
    }
    if body.password is None and old.get("password") and body.username == old.get("username"):
        record["password"] = old["password"]  # unchanged unless given again
    await node.write(node.state.store.put, MQTT_KIND, MQTT_KEY, record)
    node.event_log.configure_mqtt()
    return mqtt_out(node)


@router.delete("/notifications/mqtt", status_code=204, responses=USER_ERRORS)
async def delete_mqtt(node: Node, _caller: Admin) -> Response:
    if node.state.store.get(MQTT_KIND, MQTT_KEY) is not None:
        await node.write(node.state.store.delete, MQTT_KIND, MQTT_KEY)
    node.event_log.configure_mqtt()
    return Response(status_code=204)
