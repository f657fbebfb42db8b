"""Pure reading of an ONVIF replay stream (ONVIF Streaming, replay): the capture time of
every frame from the RTP header extension 0xABAC, and the RTCP BYE that ends a range.

The depacketizing itself is `_rtp.InterleavedVideoReader`'s (it skips header
extensions); this scanner walks the same interleaved bytes once more for what that
reader leaves out, so the live path stays as fast as it is."""

from __future__ import annotations

from collections import OrderedDict

from ._rtp import rtsp_answer_end

ONVIF_REPLAY_EXTENSION_ID = 0xABAC
NTP_UNIX_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (UNIX)
RTCP_BYE = 203
MAX_PENDING_TIMES = 4096  # capture times kept for frames not yet taken (bounded memory)

# flags of the extension's fourth word
CLEAN_POINT = 0x80
END_OF_SECTION = 0x40
DISCONTINUITY = 0x20


def ntp_to_unix_ms(ntp: int) -> int:
    """A 64-bit NTP timestamp -> UNIX milliseconds (rounded)."""
    seconds, fraction = ntp >> 32, ntp & 0xFFFFFFFF
    return (seconds - NTP_UNIX_OFFSET_S) * 1000 + ((fraction * 1000 + (1 << 31)) >> 32)


def replay_extension_time(packet: bytes) -> tuple[int, int] | None:
    """(capture time in UNIX ms, flags) of one RTP packet's ONVIF replay header
    extension, or None when it has none."""
    if len(packet) < 12 or packet[0] >> 6 != 2 or not packet[0] & 0x10:
        return None
    at = 12 + 4 * (packet[0] & 0x0F)
    if at + 4 > len(packet):
        return None
    profile = (packet[at] << 8) | packet[at + 1]
    words = (packet[at + 2] << 8) | packet[at + 3]
    if profile != ONVIF_REPLAY_EXTENSION_ID or words < 3 or at + 4 + 4 * words > len(packet):
        return None
    ntp = int.from_bytes(packet[at + 4 : at + 12], "big")
    return ntp_to_unix_ms(ntp), packet[at + 12]


def has_bye(packet: bytes) -> bool:
    """True if this RTCP (compound) packet holds a BYE."""
    at = 0
    while at + 4 <= len(packet):
        if packet[at] >> 6 != 2:
            return False
        if packet[at + 1] == RTCP_BYE:
            return True
        at += 4 + 4 * ((packet[at + 2] << 8) | packet[at + 3])
    return False


class ReplayScanner:
    """Interleaved replay bytes -> the capture time of each RTP timestamp of the video
    channel, and whether the server ended the range (RTCP BYE on the next channel).
    RTSP answers between frames (to keep-alives) are skipped; a frame split across
    chunks is kept for the next."""

    def __init__(self, channel: int = 0) -> None:
        self.channel = channel
        self.ended = False
        self._tail = b""
        self._times: OrderedDict[int, int] = OrderedDict()

    def feed(self, data: bytes) -> bool:
        """Scan the bytes read; True once the range has ended."""
        if self._tail:
            data = self._tail + data
        size, pos = len(data), 0
        while pos + 4 <= size:
            if data[pos] != 0x24:  # '$': else an RTSP answer
                after = rtsp_answer_end(data, pos)
                if after is None:
                    break
                pos = after
                continue
            start = pos + 4
            end = start + ((data[pos + 2] << 8) | data[pos + 3])
            if end > size:
                break
            pos = end
            channel = data[start - 3]
            packet = data[start:end]
            if channel == self.channel:
                found = replay_extension_time(packet)
                if found is not None and len(packet) >= 8:
                    stamp = int.from_bytes(packet[4:8], "big")
                    self._times[stamp] = found[0]
                    if len(self._times) > MAX_PENDING_TIMES:
                        self._times.popitem(last=False)
            elif channel == self.channel + 1 and has_bye(packet):
                self.ended = True
        self._tail = data[pos:] if pos < size else b""
        return self.ended

    def capture_ms(self, rtp_timestamp: int) -> int | None:
        """The capture time of the frame with this 32-bit RTP timestamp (once)."""
        return self._times.pop(rtp_timestamp & 0xFFFFFFFF, None)
