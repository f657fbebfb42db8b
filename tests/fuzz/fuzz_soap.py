"""SOAP requests with WS-Security as the emulator's ONVIF services read them.

`data` is an HTTP body: `emulator.soap.parse_request` (hardened XML, envelope, one
operation, arguments, UsernameToken), then
`emulator.soap_security.check_username_token` for a camera's user and password, with
a nonce cache. Documented error: `SoapFault` (answered as a SOAP fault, 4xx or 5xx).
"""

from __future__ import annotations

from datetime import UTC, datetime

from emulator.soap import SoapFault, SoapRequest, build_fault, parse_request
from emulator.soap_security import NonceCache, check_username_token

USERNAME, PASSWORD = "admin", "secret"
# The seeds' UsernameTokens were created at this time, so their digests check out.
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def fuzz_one(data: bytes) -> None:
    try:
        request = parse_request(data)
    except SoapFault as fault:
        _check_fault(fault)
        return
    assert isinstance(request, SoapRequest) and isinstance(request.args, dict)
    nonces = NonceCache()
    try:
        check_username_token(request.token, USERNAME, PASSWORD, NOW, nonces)
    except SoapFault as fault:
        _check_fault(fault)
        return
    assert request.token is not None
    if request.token.password_type == "digest":  # the same nonce again is a replay
        try:
            check_username_token(request.token, USERNAME, PASSWORD, NOW, nonces)
        except SoapFault as fault:
            assert fault.subcodes == ("NotAuthorized",)
        else:
            raise AssertionError("a replayed digest nonce was accepted")


def _check_fault(fault: SoapFault) -> None:
    assert fault.code in ("Sender", "Receiver") and 400 <= fault.status() <= 599
    assert build_fault(fault).startswith(b"<?xml")
