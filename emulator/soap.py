"""SOAP 1.2 envelopes for the emulated ONVIF services: parse requests, build replies and faults.

Pure functions, no I/O. Parsing is hardened against hostile XML: a DOCTYPE (and so
any entity declaration) is refused outright, and lxml is told never to resolve
entities, load DTDs or touch the network, and to keep its default size limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA_NS = "http://www.w3.org/2005/08/addressing"
TDS_NS = "http://www.onvif.org/ver10/device/wsdl"
TRT_NS = "http://www.onvif.org/ver10/media/wsdl"
TR2_NS = "http://www.onvif.org/ver20/media/wsdl"
TRC_NS = "http://www.onvif.org/ver10/recording/wsdl"
TSE_NS = "http://www.onvif.org/ver10/search/wsdl"
TRP_NS = "http://www.onvif.org/ver10/replay/wsdl"
TT_NS = "http://www.onvif.org/ver10/schema"
TER_NS = "http://www.onvif.org/ver10/error"

MAX_SOAP_BYTES = 256 * 1024  # an ONVIF request is a few KiB; anything larger is refused

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

# Namespaces declared on every reply envelope, with the prefixes cameras use.
_ENVELOPE_NAMESPACES = {
    "env": SOAP12_NS,
    "tds": TDS_NS,
    "trt": TRT_NS,
    "tr2": TR2_NS,
    "trc": TRC_NS,
    "tse": TSE_NS,
    "trp": TRP_NS,
    "tt": TT_NS,
    "ter": TER_NS,
    "wsa": WSA_NS,
}


@dataclass(frozen=True)
class UsernameToken:
    username: str
    password: str
    password_type: str  # "digest" or "text"
    nonce: str | None  # base64 text as sent
    created: str | None


@dataclass(frozen=True)
class SoapRequest:
    namespace: str  # namespace of the operation element (which service)
    operation: str  # local name, e.g. "GetProfiles"
    args: dict  # child elements: local name -> text, or nested dict, or list of those
    token: UsernameToken | None
    soap_version: str = "1.2"
    message_id: str | None = None


@dataclass(eq=False)
class SoapFault(Exception):
    """A SOAP fault to send back. `code` is "Sender" or "Receiver"; subcodes are ter:* names."""

    code: str
    subcodes: tuple[str, ...]
    reason: str
    http_status: int = field(default=0)

    def status(self) -> int:
        if self.http_status:
            return self.http_status
        return 400 if self.code == "Sender" else 500


def not_authorized(reason: str = "Sender not authorized") -> SoapFault:
    return SoapFault("Sender", ("NotAuthorized",), reason)


def action_not_supported(operation: str) -> SoapFault:
    return SoapFault(
        "Receiver", ("ActionNotSupported",), f"Optional action {operation} not implemented"
    )


def invalid_arg(sub: str, reason: str) -> SoapFault:
    return SoapFault("Sender", ("InvalidArgVal", sub), reason)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml_safely(data: bytes) -> etree._Element:
    """Parse untrusted XML; raises SoapFault(Sender, WellFormed) for anything unacceptable."""
    if len(data) > MAX_SOAP_BYTES:
        raise SoapFault("Sender", ("WellFormed",), "Request too large", http_status=413)
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise SoapFault("Sender", ("WellFormed",), "DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, _safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise SoapFault("Sender", ("WellFormed",), "Malformed XML") from exc
    if root is None:
        raise SoapFault("Sender", ("WellFormed",), "Empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SoapFault("Sender", ("WellFormed",), "DTDs are not allowed")
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def element_to_args(element: etree._Element) -> dict:
    """Children of `element` as a plain dict: leaf -> text, branch -> dict; repeats -> list."""
    args: dict = {}
    for attr, value in element.attrib.items():
        args["@" + _local(attr)] = value
    for child in element:
        if not isinstance(child.tag, str):
            continue
        value = element_to_args(child) if len(child) or child.attrib else (child.text or "").strip()
        if isinstance(value, dict) and not value and child.text:
            value = child.text.strip()
        name = _local(child.tag)
        if name in args:
            existing = args[name]
            args[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            args[name] = value
    return args


def _text(parent: etree._Element, ns: str, name: str) -> str | None:
    found = parent.find(f"{{{ns}}}{name}")
    return None if found is None or found.text is None else found.text.strip()


def _parse_username_token(header: etree._Element | None) -> UsernameToken | None:
    if header is None:
        return None
    token = header.find(f"{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is None:
        return None
    password_el = token.find(f"{{{WSSE_NS}}}Password")
    password_type = "text"
    if password_el is not None and password_el.get("Type", "").endswith("#PasswordDigest"):
        password_type = "digest"
    return UsernameToken(
        username=_text(token, WSSE_NS, "Username") or "",
        password=(password_el.text or "").strip() if password_el is not None else "",
        password_type=password_type,
        nonce=_text(token, WSSE_NS, "Nonce"),
        created=_text(token, WSU_NS, "Created"),
    )


def parse_request(data: bytes) -> SoapRequest:
    """Bytes of an HTTP body -> SoapRequest. Raises SoapFault for anything malformed."""
    root = parse_xml_safely(data)
    envelope_ns = etree.QName(root).namespace
    if _local(root.tag) != "Envelope" or envelope_ns not in (SOAP12_NS, SOAP11_NS):
        raise SoapFault("Sender", ("WellFormed",), "Not a SOAP envelope")
    header = root.find(f"{{{envelope_ns}}}Header")
    body = root.find(f"{{{envelope_ns}}}Body")
    if body is None:
        raise SoapFault("Sender", ("WellFormed",), "SOAP envelope without a Body")
    operations = [child for child in body if isinstance(child.tag, str)]
    if len(operations) != 1:
        raise SoapFault("Sender", ("WellFormed",), "SOAP Body must hold exactly one operation")
    op = operations[0]
    message_id = _text(header, WSA_NS, "MessageID") if header is not None else None
    return SoapRequest(
        namespace=etree.QName(op).namespace or "",
        operation=_local(op.tag),
        args=element_to_args(op),
        token=_parse_username_token(header),
        soap_version="1.2" if envelope_ns == SOAP12_NS else "1.1",
        message_id=message_id,
    )


def text(value: object) -> str:
    """Escape a value for XML character data."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def attr(value: object) -> str:
    """Escape a value for an XML attribute (with the quotes)."""
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    return quoteattr(str(value))


def build_envelope(body_xml: str) -> bytes:
    """Wrap the body content (already-escaped XML using the standard prefixes) in SOAP 1.2."""
    declarations = " ".join(f'xmlns:{p}="{ns}"' for p, ns in _ENVELOPE_NAMESPACES.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<env:Envelope {declarations}><env:Header/><env:Body>{body_xml}</env:Body></env:Envelope>"
    ).encode()


def build_fault(fault: SoapFault) -> bytes:
    """A SOAP 1.2 fault envelope in the shape ONVIF devices send."""
    subcode = ""
    for name in reversed(fault.subcodes):
        subcode = f"<env:Subcode><env:Value>ter:{text(name)}</env:Value>{subcode}</env:Subcode>"
    body = (
        "<env:Fault>"
        f"<env:Code><env:Value>env:{text(fault.code)}</env:Value>{subcode}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{text(fault.reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )
    return build_envelope(body)
