"""The node's figures in the Prometheus text format (prometheus-client).

Names follow Prometheus' conventions: prefix `camkeep_`, base units (bytes,
seconds), `_total` for counters. Most figures are read from the node when scraped
(`Snapshot`, built by the node); HTTP requests are counted as they happen. Each node
has its own registry (never the process-global one), so several nodes in one process
do not mix their figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CAMERA_STATES = ("connecting", "recording", "reconnecting", "error")


@dataclass(frozen=True)
class CameraFigures:
    camera_id: str
    name: str
    state: str  # this node's recorder state
    fps: float
    bitrate_bps: float
    written_bytes: int
    gap_seconds: float
    reconnects: int


@dataclass(frozen=True)
class Snapshot:
    server_id: str
    server_name: str
    cameras: tuple[CameraFigures, ...] = ()
    takeovers: int = 0
    returns: int = 0
    members: Mapping[str, int] = field(default_factory=dict)  # state -> count
    gossip: Mapping[str, int] = field(default_factory=dict)  # sent/received(_bytes)
    disk_free_bytes: int = 0
    disk_total_bytes: int = 0
    recordings_bytes: int = 0
    events_written: Mapping[str, int] = field(default_factory=dict)  # type -> count
    events_held: int = 0
    notifications: Mapping[tuple[str, str], int] = field(default_factory=dict)
    state_exchange_bytes: Mapping[str, int] = field(default_factory=dict)  # direction
    # peer server id -> its clock minus this server's (seconds), measured lately
    peer_clock_offsets: Mapping[str, float] = field(default_factory=dict)


def _families(s: Snapshot) -> Iterator[Metric]:
    server = [s.server_id]
    info = GaugeMetricFamily("camkeep_server_info", "This server", labels=["server_id", "name"])
    info.add_metric([s.server_id, s.server_name], 1)
    yield info
    labels = ["server_id", "camera_id", "camera"]
    state = GaugeMetricFamily(
        "camkeep_camera_state",
        "1 for the recorder state a camera recorded here is in",
        labels=[*labels, "state"],
    )
    recording = GaugeMetricFamily(
        "camkeep_camera_recording", "1 while this server records the camera", labels=labels
    )
    fps = GaugeMetricFamily("camkeep_camera_fps", "Frames per second received", labels=labels)
    bitrate = GaugeMetricFamily(
        "camkeep_camera_received_bytes_per_second",
        "Video bytes per second received (bitrate / 8)",
        labels=labels,
    )
    written = CounterMetricFamily(
        "camkeep_camera_written_bytes", "Bytes of video written since start", labels=labels
    )
    gaps = CounterMetricFamily(
        "camkeep_camera_gap_seconds",
        "Seconds without video between a camera going offline and coming back",
        labels=labels,
    )
    reconnects = CounterMetricFamily(
        "camkeep_ingest_reconnects", "Times a camera's stream was lost and reopened", labels=labels
    )
    for c in s.cameras:
        values = [s.server_id, c.camera_id, c.name]
        for name in CAMERA_STATES:
            state.add_metric([*values, name], 1 if c.state == name else 0)
        recording.add_metric(values, 1 if c.state == "recording" else 0)
        fps.add_metric(values, c.fps)
        bitrate.add_metric(values, c.bitrate_bps / 8)
        written.add_metric(values, c.written_bytes)
        gaps.add_metric(values, c.gap_seconds)
        reconnects.add_metric(values, c.reconnects)
    yield from (state, recording, fps, bitrate, written, gaps, reconnects)
    takeovers = CounterMetricFamily(
        "camkeep_failover_takeovers", "Cameras this server took over", labels=["server_id"]
    )
    takeovers.add_metric(server, s.takeovers)
    returns = CounterMetricFamily(
        "camkeep_failover_returns",
        "Cameras that came back to this server, their home",
        labels=["server_id"],
    )
    returns.add_metric(server, s.returns)
    yield from (takeovers, returns)
    members = GaugeMetricFamily(
        "camkeep_members", "Servers of the system by membership state", labels=["state"]
    )
    for name in ("alive", "suspect", "dead", "left"):
        members.add_metric([name], s.members.get(name, 0))
    yield members
    datagrams = CounterMetricFamily(
        "camkeep_gossip_datagrams", "Gossip datagrams", labels=["direction"]
    )
    gossip_bytes = CounterMetricFamily(
        "camkeep_gossip_bytes", "Bytes of gossip datagrams", labels=["direction"]
    )
    for direction in ("sent", "received"):
        datagrams.add_metric([direction], s.gossip.get(direction, 0))
        gossip_bytes.add_metric([direction], s.gossip.get(f"{direction}_bytes", 0))
    yield from (datagrams, gossip_bytes)
    exchange = CounterMetricFamily(
        "camkeep_camera_state_exchange_bytes",
        "Bytes of camera state tables sent to and received from peers",
        labels=["direction"],
    )
    for direction in ("sent", "received"):
        exchange.add_metric([direction], s.state_exchange_bytes.get(direction, 0))
    yield exchange
    free = GaugeMetricFamily("camkeep_disk_free_bytes", "Free bytes on the recordings disk")
    free.add_metric([], s.disk_free_bytes)
    total = GaugeMetricFamily("camkeep_disk_size_bytes", "Size of the recordings disk in bytes")
    total.add_metric([], s.disk_total_bytes)
    used = GaugeMetricFamily("camkeep_recordings_bytes", "Bytes of video this server stores")
    used.add_metric([], s.recordings_bytes)
    yield from (free, total, used)
    events = CounterMetricFamily(
        "camkeep_events_written", "Events this server wrote to the log", labels=["type"]
    )
    for name, count in sorted(s.events_written.items()):
        events.add_metric([name], count)
    held = GaugeMetricFamily("camkeep_events_stored", "Events of the system this server holds")
    held.add_metric([], s.events_held)
    notifications = CounterMetricFamily(
        "camkeep_notifications",
        "Notification attempts by sink kind and outcome (sent, retried, given_up)",
        labels=["sink", "outcome"],
    )
    for (sink, outcome), count in sorted(s.notifications.items()):
        notifications.add_metric([sink, outcome], count)
    yield from (events, held, notifications)
    clocks = GaugeMetricFamily(
        "camkeep_peer_clock_offset_seconds",
        "Another server's clock minus this server's, from its latest gossip datagram "
        "(beyond 30 s its messages are refused)",
        labels=["server"],
    )
    for peer, offset in sorted(s.peer_clock_offsets.items()):
        clocks.add_metric([peer], offset)
    yield clocks


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from _families(self._snapshot())


class NodeMetrics:
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_SnapshotCollector(snapshot))
        self.requests = Counter(
            "camkeep_http_requests",
            "API requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )

    def count_request(self, route: str, method: str, status: int) -> None:
        self.requests.labels(route, method, str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
