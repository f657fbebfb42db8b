"""Gossip datagrams as a node's membership reads them.

`data` is one UDP datagram. `node.membership._codec.GossipCodec.decode` checks it as it
comes (size, magic, MAC: garbage stops here). To reach what is behind the MAC, the
datagram's body is also re-signed with the system key, as a buggy or hostile member
of the system would send it, and decoded by a fresh codec: JSON shape, ids, time
window, replay (the same datagram twice is refused), then the membership payload
(`node.membership._wire.parse_payload`). Documented errors: `GossipRejected` (codec)
and `WireError` (payload).
"""

from __future__ import annotations

import contextlib

from node.membership import MAGIC, GossipCodec, GossipRejected
from node.membership._codec import TAG_BYTES
from node.membership._wire import WireError, parse_payload

SYSTEM_ID = "sys-fuzz"
SECRET = b"fuzz-system-secret-0123456789abcdef"
RECEIVER = "node-receiver"
NOW_MS = 1_714_564_800_000  # the seeds' timestamps are around this
_SIGNER = GossipCodec(SYSTEM_ID, "node-signer", SECRET, boot=0)  # its MAC is the system's


def _codec() -> GossipCodec:
    return GossipCodec(SYSTEM_ID, RECEIVER, SECRET, boot=1)


def resign(datagram: bytes) -> bytes:
    """The datagram's body (or all of `datagram` if it has no header) with a valid MAC."""
    header = len(MAGIC) + TAG_BYTES
    body = datagram[header:] if datagram.startswith(MAGIC) else datagram
    return MAGIC + _SIGNER._tag(body) + body


def fuzz_one(data: bytes) -> None:
    with contextlib.suppress(GossipRejected):
        _codec().decode(data, NOW_MS)
    signed = resign(data)
    codec = _codec()
    try:
        envelope = codec.decode(signed, NOW_MS)
    except GossipRejected as rejected:
        assert rejected.reason.isidentifier()
        return
    try:
        codec.decode(signed, NOW_MS)
    except GossipRejected as rejected:
        assert rejected.reason == "replayed", rejected.reason
    else:
        raise AssertionError("the same datagram was accepted twice")
    try:
        parsed = parse_payload(envelope.type, envelope.sender, envelope.payload)
    except WireError:
        return
    assert parsed.me.node_id == envelope.sender and parsed.bad_entries >= 0
