"""Property: hostile bytes never escape the parsers as anything but their own error,
and the ONVIF service always answers with a well-formed envelope."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from emulator.camera import CameraSpec
from emulator.httpserver import HttpError, parse_request_head
from emulator.onvif_service import handle_soap
from emulator.soap import SoapFault, parse_request
from emulator.wsdiscovery_messages import DiscoveryMessageError, parse_message

CAMERA = CameraSpec(1, "Fuzz", "127.0.0.1", 8554, 8000, username="u", password="p")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
VALID = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    b'<tds:GetSystemDateAndTime xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>'
    b"</s:Body></s:Envelope>"
)


def mutations() -> st.SearchStrategy[bytes]:
    """Random bytes, and the valid envelope with a slice replaced by random bytes."""
    spliced = st.tuples(st.integers(0, len(VALID)), st.integers(0, 40), st.binary(max_size=40)).map(
        lambda t: VALID[: t[0]] + t[2] + VALID[t[0] + t[1] :]
    )
    return st.one_of(st.binary(max_size=400), spliced)


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_soap_parser_only_raises_faults(data: bytes) -> None:
    with contextlib.suppress(SoapFault):
        parse_request(data)


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_onvif_service_always_answers_an_envelope(data: bytes) -> None:
    reply = handle_soap(CAMERA, data, NOW)
    assert reply.status in (200, 400, 413, 500)
    etree.fromstring(reply.body)


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_wsdiscovery_parser_only_raises_its_error(data: bytes) -> None:
    with contextlib.suppress(DiscoveryMessageError):
        parse_message(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_http_head_parser_only_raises_http_errors(data: bytes) -> None:
    try:
        parse_request_head(data)
    except HttpError as error:
        assert 400 <= error.status < 600
