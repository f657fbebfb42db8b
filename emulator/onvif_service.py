"""One SOAP exchange of an emulated camera: request bytes in, (HTTP status, reply bytes) out.

Pure apart from the nonce cache it is given: it parses the envelope, checks
WS-Security (unless the operation is PRE_AUTH or HTTP auth already proved the
caller), dispatches by the operation's namespace and name, and turns every
failure into the SOAP fault a camera would send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from emulator.camera import CameraSpec
from emulator.onvif_device import DEVICE_OPERATIONS, PRE_AUTH_OPERATIONS
from emulator.onvif_media import MEDIA_OPERATIONS
from emulator.onvif_media2 import MEDIA2_OPERATIONS
from emulator.soap import (
    TDS_NS,
    TR2_NS,
    TRT_NS,
    SoapFault,
    SoapRequest,
    action_not_supported,
    build_envelope,
    build_fault,
    parse_request,
)
from emulator.soap_security import NonceCache, check_username_token

log = logging.getLogger(__name__)

Operation = Callable[[CameraSpec, dict, datetime], str]

OPERATIONS: dict[str, dict[str, Operation]] = {
    TDS_NS: DEVICE_OPERATIONS,
    TRT_NS: MEDIA_OPERATIONS,
    TR2_NS: MEDIA2_OPERATIONS,
}


@dataclass(frozen=True)
class SoapReply:
    status: int
    body: bytes
    operation: str | None  # None when the request could not be parsed
    fault: SoapFault | None = None


def find_operation(
    request: SoapRequest, extra: Mapping[str, Mapping[str, Operation]] | None = None
) -> Operation:
    operation = OPERATIONS.get(request.namespace, {}).get(request.operation)
    if operation is None and extra:
        operation = extra.get(request.namespace, {}).get(request.operation)
    if operation is None:
        raise action_not_supported(request.operation)
    return operation


def needs_authentication(request: SoapRequest) -> bool:
    return not (request.namespace == TDS_NS and request.operation in PRE_AUTH_OPERATIONS)


def handle_soap(
    camera: CameraSpec,
    data: bytes,
    now: datetime,
    nonces: NonceCache | None = None,
    *,
    http_authenticated: bool = False,
    extra_operations: Mapping[str, Mapping[str, Operation]] | None = None,
) -> SoapReply:
    """Answer one SOAP request for `camera` at wall-clock time `now` (UTC, tz-aware).

    `extra_operations` are the camera's own services beyond the fixed ones (Profile G
    when it has edge storage); without them those operations are ActionNotSupported."""
    operation_name: str | None = None
    try:
        request = parse_request(data)
        operation_name = request.operation
        operation = find_operation(request, extra_operations)
        if camera.auth_required and needs_authentication(request) and not http_authenticated:
            check_username_token(
                request.token, camera.username or "", camera.password or "", now, nonces
            )
        body = operation(camera, request.args, now)
    except SoapFault as fault:
        log.debug("camera %d: %s fault %s", camera.index, operation_name, fault.reason)
        return SoapReply(fault.status(), build_fault(fault), operation_name, fault)
    return SoapReply(200, build_envelope(body), operation_name)
