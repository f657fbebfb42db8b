"""TXT encode/decode/validation for mDNS peer records (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from discovery.mdns import MdnsError, check_interfaces
from discovery.mdns_txt import (
    MAX_TXT_BYTES,
    SERVICE_TYPE,
    MdnsRecordError,
    NodeInfo,
    decode_txt,
    encode_txt,
    peer_from_record,
    peer_url,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NODE = NodeInfo("n1-abc", "Server 1", 7480, "0.1.0", system_id="sys_9")


def _wire(props: dict[str, str]) -> dict[bytes, bytes | None]:
    return {k.encode(): v.encode() for k, v in props.items()}


def test_round_trip_member_and_undefined() -> None:
    assert decode_txt(_wire(encode_txt(NODE))) == NODE
    undefined = NodeInfo("n2", "Server 2", 1, "1.2.3+dev")
    props = encode_txt(undefined)
    assert props["sys"] == ""
    assert decode_txt(_wire(props)) == undefined


ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
names = st.text(
    st.characters(min_codepoint=32, blacklist_categories=("Cs",), blacklist_characters="\x7f"),
    min_size=1,
).filter(lambda s: s.strip() and len(s.encode()) <= 63)


@given(
    node_id=ids,
    system_id=st.none() | ids,
    name=names,
    port=st.integers(1, 65535),
    version=st.from_regex(r"\A[A-Za-z0-9.+_-]{1,32}\Z"),
)
def test_round_trip_any_valid_node(node_id, system_id, name, port, version) -> None:
    node = NodeInfo(node_id, name, port, version, system_id=system_id)
    props = encode_txt(node)
    size = sum(2 + len(k.encode()) + len(v.encode()) for k, v in props.items())
    assert size <= MAX_TXT_BYTES  # small TXT by construction (RFC 6763 §6.2)
    assert decode_txt(_wire(props)) == node


def test_unknown_keys_are_ignored_and_keys_are_case_insensitive() -> None:
    wire = _wire(encode_txt(NODE))
    wire[b"extra"] = b"whatever"
    wire[b"ID"] = wire.pop(b"id")
    assert decode_txt(wire) == NODE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({b"id": None}, "no value"),
        ({b"port": b"70000"}, "port"),
        ({b"port": b"-1"}, "not a number"),
        ({b"port": "٣".encode()}, "not a number"),  # a non-ASCII digit
        ({b"id": b"../etc"}, "node_id"),
        ({b"id": b"x" * 65}, "node_id"),
        ({b"sys": b"a b"}, "system_id"),
        ({b"name": b"\xff\xfe"}, "UTF-8"),
        ({b"name": b"evil\nline"}, "control"),
        ({b"name": b"n" * 64}, "longer"),
        ({b"name": b"   "}, "non-empty"),
        ({b"ver": b"<script>"}, "version"),
        ({b"txtvers": b"2"}, "txtvers"),
        ({b"\xff": b"x"}, "UTF-8"),
    ],
)
def test_bad_records_are_rejected(change: dict, message: str) -> None:
    wire = _wire(encode_txt(NODE))
    wire.update(change)
    with pytest.raises(MdnsRecordError, match=message):
        decode_txt(wire)


def test_missing_keys_and_too_many_keys() -> None:
    wire = _wire(encode_txt(NODE))
    del wire[b"port"]
    with pytest.raises(MdnsRecordError, match="lacks port"):
        decode_txt(wire)
    flood = {f"k{i}".encode(): b"v" for i in range(40)}
    with pytest.raises(MdnsRecordError, match="too many"):
        decode_txt(flood)


def test_node_info_validates_what_we_announce() -> None:
    with pytest.raises(MdnsRecordError):
        NodeInfo("", "x", 7480, "1")
    with pytest.raises(MdnsRecordError):
        NodeInfo("n", "x", 0, "1")
    with pytest.raises(MdnsRecordError):
        NodeInfo("n", "x", True, "1")  # type: ignore[arg-type]


def _record(**overrides):
    args = {
        "service_name": f"n1-abc.{SERVICE_TYPE}",
        "properties": _wire(encode_txt(NODE)),
        "addresses": ["192.168.9.9", "10.1.2.3"],
        "srv_port": 7480,
        "local_addresses": ["10.1.2.200"],
        "now": NOW,
    }
    args.update(overrides)
    return peer_from_record(**args)


def test_peer_from_record_prefers_the_address_on_our_subnet() -> None:
    peer = _record()
    assert (peer.node_id, peer.name, peer.system_id) == ("n1-abc", "Server 1", "sys_9")
    assert peer.url == "http://10.1.2.3:7480"
    assert peer.last_seen == NOW
    assert _record(local_addresses=["127.0.0.1"]).url == "http://192.168.9.9:7480"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service_name": f"other.{SERVICE_TYPE}"}, "announces node id"),
        ({"service_name": "n1-abc._http._tcp.local."}, "not a"),
        ({"srv_port": 9999}, "SRV port"),
        ({"addresses": []}, "no IPv4"),
        ({"addresses": ["224.0.0.251"]}, "unicast"),
        ({"addresses": ["0.0.0.0"]}, "unicast"),
    ],
)
def test_peer_from_record_rejects_spoofing_and_junk(overrides, message) -> None:
    with pytest.raises(MdnsRecordError, match=message):
        _record(**overrides)


def test_peer_url() -> None:
    assert peer_url("10.0.0.1", 80) == "http://10.0.0.1:80"
    with pytest.raises(MdnsRecordError):
        peer_url("example.com", 80)


def test_interfaces_must_be_explicit_unicast_ipv4() -> None:
    assert check_interfaces(["127.0.0.1", "10.213.1.11"]) == ["127.0.0.1", "10.213.1.11"]
    for bad in ([], ["0.0.0.0"], ["eth0"], ["224.0.0.251"], ["::1"]):
        with pytest.raises(MdnsError):
            check_interfaces(bad)
