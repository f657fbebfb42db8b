"""System-wide state freshness and notifications exactly once across a kill -9.

Three real nodes (`camkeep run`) on loopback, one system, N emulated cameras all homed
on node A, a webhook receiver (counting event ids, checking signatures) and a
mosquitto broker with a subscriber, all on 127.0.0.1.

- Freshness: the emulator's fault API turns cameras off and on again
  (`POST /cameras/<i>/fault {"mode": "offline"|"ok"}`), every camera in its own
  thread. Three pollers read `GET /api/v1/cameras` of A, B and C every ~50 ms and note
  when each first shows a camera recording or not. One change = A (the recording
  server) showing the new state; its freshness = the later of B and C showing it,
  minus that. Polling resolution is part of the figure (about one poll, 50 ms plus
  the request time, on each side).
- Notifications: the receiver is slow during the changes (`--hook-delay`, per POST)
  so A, the writer of every camera_offline/online event, has a backlog; A is killed
  with SIGKILL while it sends, the receiver made fast again, and B (A's deputy, or
  the writer of what follows) sends the rest. Counted over every event in the
  survivors' log since the webhook was added: delivered once, twice or more, missing;
  the same for MQTT.

    python bench/events.py [--changes 100] [--cameras 6] [--no-write]

Writes the section `## Events: freshness and notifications (bench/events.py)` of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from notify_helpers import MqttSubscriber, WebhookReceiver, mosquitto  # noqa: E402

from bench._common import replace_section  # noqa: E402
from bench.failover import HOST, OWNER, PASSWORD, Bench, percentile, wait_for  # noqa: E402
from emulator.ports import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Events: freshness and notifications (bench/events.py)"
SECRET = "bench-webhook-secret-0123"
CONFIG = """
segment_seconds = 2
licensed_channels = 128
[discovery]
mdns = false
[retention]
min_free_bytes = 1_000_000
"""
POLL_S = 0.05
CHANGE_TIMEOUT_S = 30.0


class Seen:
    """Per node and camera: the state class shown ("up" = recording, else "down")
    and the monotonic time it was first shown."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: dict[tuple[str, str], tuple[str, float]] = {}

    def note(self, node: str, camera_id: str, shown: str, at: float) -> None:
        with self.lock:
            if self.state.get((node, camera_id), ("", 0.0))[0] != shown:
                self.state[(node, camera_id)] = (shown, at)

    def get(self, node: str, camera_id: str) -> tuple[str, float]:
        with self.lock:
            return self.state.get((node, camera_id), ("", 0.0))


class EventsBench(Bench):
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        args.segment = 2
        super().__init__(args, workdir)
        self.config.write_text(CONFIG)
        self.control_port = free_port(HOST)
        self.seen = Seen()
        self.stop = threading.Event()
        self.freshness: list[float] = []
        self.changes_lock = threading.Lock()

    def form_events(self) -> None:
        n = self.args.cameras
        self.spawn(
            "cameras",
            ["emulate", "--host", HOST, "--rtsp-port", str(self.rtsp_port), "--no-onvif",
             "--no-wsd", "--control-port", str(self.control_port), "--cameras", str(n),
             "--bitrate", "50000", "--width", "160", "--height", "120", "--fps", "5",
             "--gop-seconds", "1"],
        )  # fmt: skip
        for name in self.ports:
            self.start_node(name)
        setup = {"system_name": "bench", "owner": {"username": OWNER, "password": PASSWORD}}
        self.api("a", "POST", "/api/v1/system/setup", json=setup)
        login = {"username": OWNER, "password": PASSWORD}
        token = self.api("a", "POST", "/api/v1/auth/login", json=login)["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        for name in ("b", "c"):
            body = {"url": self.url(name), "owner_username": OWNER, "owner_password": PASSWORD}
            self.api("a", "POST", "/api/v1/servers", json=body)
        for name in self.ports:
            self.ids[name] = self.api(name, "GET", "/api/v1/health")["node_id"]
            body = {"enabled": True, "max_cameras": 128}
            self.api("a", "PUT", f"/api/v1/servers/{self.ids[name]}/failover", json=body)
        wait_for(lambda: httpx.get(self.control_url("health")).status_code == 200, 120,
                 "the cameras")  # fmt: skip
        for i in range(1, n + 1):
            body = {
                "name": f"cam{i}",
                "rtsp_url": f"rtsp://{HOST}:{self.rtsp_port}/cam{i}/main",
                "home_server_id": self.ids["a"],
            }
            self.cameras.append(self.api("a", "POST", "/api/v1/cameras", json=body)["id"])

    def control_url(self, path: str) -> str:
        return f"http://{HOST}:{self.control_port}/{path}"

    # ---- freshness

    def poll(self, name: str) -> None:
        with httpx.Client(headers=self.headers, timeout=10) as client:
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = client.get(self.url(name) + "/api/v1/cameras")
                    at = time.monotonic()
                    for camera in answer.json():
                        state = camera["status"]["state"]
                        self.seen.note(name, camera["id"], "up" if state == "recording" else "down",
                                       at)  # fmt: skip
                time.sleep(POLL_S)

    def everyone_shows(self, camera_id: str, shown: str) -> bool:
        return all(self.seen.get(name, camera_id)[0] == shown for name in self.ports)

    def flip(self, index: int, camera_id: str, changes: int) -> None:
        for k in range(changes):
            shown = "down" if k % 2 == 0 else "up"
            mode = "offline" if shown == "down" else "ok"
            httpx.post(self.control_url(f"cameras/{index}/fault"), json={"mode": mode})
            deadline = time.monotonic() + CHANGE_TIMEOUT_S
            while not self.everyone_shows(camera_id, shown):
                if time.monotonic() > deadline:
                    print(f"cam{index}: change {k} ({shown}) not seen everywhere", flush=True)
                    return
                time.sleep(POLL_S)
            at_a = self.seen.get("a", camera_id)[1]
            latest = max(self.seen.get(name, camera_id)[1] for name in ("b", "c"))
            with self.changes_lock:
                self.freshness.append(latest - at_a)

    def measure_freshness(self) -> float:
        pollers = [threading.Thread(target=self.poll, args=(n,), daemon=True) for n in self.ports]
        for t in pollers:
            t.start()
        wait_for(lambda: all(self.everyone_shows(c, "up") for c in self.cameras), 120,
                 "every camera recording, shown everywhere", every_s=0.5)  # fmt: skip
        per_camera = -(-self.args.changes // len(self.cameras))  # ceil
        per_camera += per_camera % 2  # end on "ok": every camera recording again
        started = time.monotonic()
        flippers = [
            threading.Thread(target=self.flip, args=(i + 1, cid, per_camera))
            for i, cid in enumerate(self.cameras)
        ]
        for t in flippers:
            t.start()
        for t in flippers:
            t.join()
        self.stop.set()
        for t in pollers:
            t.join()
        return time.monotonic() - started

    # ---- notifications across a kill -9 of the sender

    def log(self, name: str, since: str) -> list[dict[str, Any]]:
        answer = self.api(name, "GET", "/api/v1/events", params={"since": since, "limit": 1000})
        return answer["events"]

    def log_ids(self, name: str, since: str) -> set[str]:
        return {e["id"] for e in self.log(name, since)}

    def notifications(
        self, receiver: WebhookReceiver, subscriber: MqttSubscriber, since: str
    ) -> dict[str, Any]:
        a_id = self.ids["a"]
        written_by_a = {i for i in self.log_ids("b", since) if i.startswith(a_id + ":")}
        received_before = len(set(receiver.ids()) & written_by_a)
        self.procs["a"].send_signal(signal.SIGKILL)
        self.procs["a"].wait()
        killed = time.monotonic()
        receiver.delay_s = 0.0
        # the takeovers that follow are events too: wait for the log to settle
        wait_for(lambda: set(self.cameras) <= self.recording_on("b") | self.recording_on("c"),
                 60, "A's cameras taken over", every_s=0.5)  # fmt: skip
        time.sleep(2)
        log = self.log_ids("b", since)
        wait_for(lambda: log <= set(receiver.ids()) and log <= set(subscriber.events()), 120,
                 "every event at the webhook and over MQTT", every_s=0.5)  # fmt: skip
        delivered_s = time.monotonic() - killed
        time.sleep(5)  # room for repeats
        hook, mqtt = Counter(receiver.ids()), Counter(subscriber.events())
        kinds = Counter(
            f"{e['type']} by {'A' if e['origin'] == a_id else 'B/C'}" for e in self.log("b", since)
        )
        return {
            "events": len(log),
            "by_a": len(written_by_a),
            "a_sent_before_kill": received_before,
            "delivered_s": delivered_s,
            "hook_once": sum(1 for i in log if hook[i] == 1),
            "hook_more": sum(1 for i in log if hook[i] > 1),
            "hook_seen": sum(1 for i in log if hook[i] >= 1),
            "hook_missing": sum(1 for i in log if hook[i] == 0),
            "hook_extra": len(set(hook) - log),
            "mqtt_once": sum(1 for i in log if mqtt[i] == 1),
            "mqtt_more": sum(1 for i in log if mqtt[i] > 1),
            "mqtt_missing": sum(1 for i in log if mqtt[i] == 0),
            "unsigned": sum(1 for d in receiver.received if not d.signed),
            "repeats": ", ".join(
                f"{n - 1} x {kind}"
                for kind, n in Counter(
                    f"{d.event['type']} written by {'A' if d.event_id.startswith(a_id) else 'B/C'}"
                    for d in receiver.received
                    if hook[d.event_id] > 1
                ).items()
            ),
            "kinds": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        }

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100, help="state changes measured")
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--hook-delay", type=float, default=1.0, help="slow receiver, s/POST")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    wall = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="camkeep-bench-events-") as tmp:
        workdir = Path(tmp)
        bench = EventsBench(args, workdir)
        receiver = WebhookReceiver(HOST, SECRET).start()
        receiver.delay_s = args.hook_delay
        try:
            with mosquitto(HOST, workdir) as broker_port:
                subscriber = MqttSubscriber(HOST, broker_port, "camkeep/#")
                try:
                    bench.form_events()
                    hook = bench.api("a", "POST", "/api/v1/webhooks",
                                     json={"url": receiver.url, "secret": SECRET})  # fmt: skip
                    bench.api("a", "PUT", "/api/v1/notifications/mqtt",
                              json={"host": HOST, "port": broker_port})  # fmt: skip
                    flipping_s = bench.measure_freshness()
                    notes = bench.notifications(receiver, subscriber, hook["created_at"])
                finally:
                    subscriber.close()
                    bench.stop_all()
        finally:
            receiver.stop()
    fresh = bench.freshness
    wall_s = time.monotonic() - wall
    print(f"freshness over {len(fresh)} changes: p50 {percentile(fresh, 0.5):.3f} s,"
          f" p95 {percentile(fresh, 0.95):.3f} s, max {max(fresh):.3f} s")  # fmt: skip
    print(notes)
    text = f"""{SECTION}

Three nodes on loopback, {args.cameras} emulated cameras (160x120, 5 fps) all recorded
by node A; default timing (gossip 0.2 s probe, dead after ~2 s). {platform.machine()},
{os.cpu_count()} cores shared with other work; wall time {wall_s:.0f} s. Reproduce:
`python bench/events.py --changes {args.changes} --cameras {args.cameras}`.

**Freshness**: a camera turned off/on through the emulator's fault API; time from A
(its recording server) showing the new state (recording or not) to both B and C
showing it, measured by polling each node's `GET /api/v1/cameras` every ~50 ms (so
it includes up to one poll interval plus a request on a loaded machine on each side).
{len(fresh)} changes in {flipping_s:.0f} s, every camera changing in parallel:

| changes | p50 s | p95 s | max s | target |
|---:|---:|---:|---:|---|
| {len(fresh)} | {percentile(fresh, 0.5):.3f} | {percentile(fresh, 0.95):.3f} | {max(fresh):.3f} | p95 <= 2 s |

**Notifications across a kill -9 of the sender**: during the changes the webhook
receiver answered each POST after {args.hook_delay} s, so A (writer of every camera
offline/online event) had a backlog; {notes["by_a"]} events written by A, of which
A had delivered {notes["a_sent_before_kill"]} to the webhook when it was killed (SIGKILL).
The receiver was then fast again and the survivors sent the rest (A's backlog by
its deputy after its 5 s wait, plus the takeover events). Counted over the
{notes["events"]} events of the survivors' log since the webhook was added; all
delivered {notes["delivered_s"]:.0f} s after the kill.

| sink | events | once | more than once | missing | not in the log |
|---|---:|---:|---:|---:|---:|
| webhook | {notes["events"]} | {notes["hook_once"]} | {notes["hook_more"]} | {notes["hook_missing"]} | {notes["hook_extra"]} |
| webhook, receiver dropping repeats by `X-Camkeep-Event-Id` | {notes["events"]} | {notes["hook_seen"]} | 0 | {notes["hook_missing"]} | {notes["hook_extra"]} |
| MQTT | {notes["events"]} | {notes["mqtt_once"]} | {notes["mqtt_more"]} | {notes["mqtt_missing"]} | - |

Webhook deliveries with a bad signature: {notes["unsigned"]}. Repeats (extra copies):
{notes["repeats"] or "none"}. The receiver counts a POST when it arrives, before it
answers, so the POST A had in flight at the kill counts as delivered although A never
saw the answer; its deputy sends it again (as any at-least-once sender must: no HTTP
sender can know whether a receiver acted on a request whose answer it never read, so
exactly once across a kill needs the receiver to drop repeats by the event id, which is
what the header is for). A second
repeat, when there is one, is most likely the event accepted just before the kill whose
cursor had not reached a peer yet (the window the delivery code documents). The log:
{notes["kinds"]}. "Not in the log": ids the
receiver got that no survivor holds (written by A and sent, but not replicated
before it died).
"""  # noqa: E501
    if not args.no_write:
        replace_section(RESULTS, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
