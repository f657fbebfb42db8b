"""Notifications: each event of the log sent once by the system to the webhooks admins
configured (JSON, HMAC-SHA256 signature, retried with backoff from a durable queue)
and to an MQTT broker, with retained camera state topics.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.notify._delivery import Delivery, Sink, event_body, sinks_from_records
from node.notify._mqtt import MqttPublisher
from node.notify._signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signature_valid,
)
from node.notify._sinks import (
    MQTT_KEY,
    MQTT_KIND,
    MQTT_SINK,
    WEBHOOK_KIND,
    MqttSettings,
    Webhook,
    backoff_s,
    default_prefix,
    deliverer,
    webhook_sink,
)
from node.notify._state_topics import StateTopics, state_payload

__all__ = [
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "MQTT_KEY",
    "MQTT_KIND",
    "MQTT_SINK",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_KIND",
    "Delivery",
    "MqttPublisher",
    "MqttSettings",
    "Sink",
    "StateTopics",
    "Webhook",
    "backoff_s",
    "default_prefix",
    "deliverer",
    "event_body",
    "signature",
    "signature_valid",
    "sinks_from_records",
    "state_payload",
    "webhook_sink",
]
