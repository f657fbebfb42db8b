"""WS-Discovery datagrams as the emulator's responder reads them: Probe and Resolve
(`emulator.wsdiscovery_messages.parse_message`), then whether a camera matches the
probe (`camera_matches`: types, scopes by rfc3986 or strcmp0). Documented error:
`DiscoveryMessageError` (the datagram is ignored)."""

from __future__ import annotations

from emulator.camera import CameraSpec
from emulator.wsdiscovery_messages import (
    DiscoveryMessageError,
    Probe,
    Resolve,
    camera_matches,
    parse_message,
)

CAMERA = CameraSpec(index=1, name="Camera 1", host="127.0.0.1", rtsp_port=8554, onvif_port=8000)


def fuzz_one(data: bytes) -> None:
    try:
        message = parse_message(data)
    except DiscoveryMessageError:
        return
    if isinstance(message, Probe):
        assert message.message_id
        assert isinstance(camera_matches(CAMERA, message), bool)
    elif isinstance(message, Resolve):
        assert message.message_id and message.address
    else:
        assert message is None
