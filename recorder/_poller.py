"""One thread that reads every fast-ingest camera and remuxes what it read.

Why: with a thread per camera, each waking a few times a second to read its socket and
mux, the process pays thread switches and GIL hand-overs per camera per wake-up, which
grew to about as much CPU as the remuxing itself at 64 cameras. One thread that walks
all cameras every READ_INTERVAL_S pays them once per round. Camera threads keep the
connection set-up and supervision (reconnect, backoff) and wait while the poller runs
their attempt."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from ._rtsp_client import READ_INTERVAL_S

log = logging.getLogger(__name__)

POLLER_CHECK_S = 5.0  # how often a waiting camera thread checks the poller still runs
WATCHED_INTERVAL_S = 0.03  # a camera someone watches live is read this often


class Polled(Protocol):
    def poll(self, now: float) -> bool: ...  # False: over; raises: failed

    def watched(self) -> bool: ...  # someone watches live: read it more often

    def finish(self, error: BaseException | None) -> None: ...


class StreamPoller:
    def __init__(
        self, interval_s: float = READ_INTERVAL_S, watched_interval_s: float = WATCHED_INTERVAL_S
    ) -> None:
        self.interval_s = interval_s
        self.watched_interval_s = watched_interval_s
        self._jobs: list[Polled] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, job: Polled) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-poller", daemon=True)
                self._thread.start()
        self.wake()

    def wake(self) -> None:
        """Look at the jobs now (one was added, or someone started watching one) rather
        than at the end of the current pause, which lasts up to a full round."""
        self._wake.set()

    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        # Every job is read each `interval_s` (a full round); between full rounds, the
        # jobs someone watches live are read every `watched_interval_s`, so a live
        # viewer sees a frame within tens of milliseconds, not 0.4 s.
        next_full = 0.0
        while True:
            with self._lock:
                jobs = list(self._jobs)
            if not jobs:
                self._wake.wait()
                self._wake.clear()
                continue
            started = time.monotonic()
            full = started >= next_full
            if full:
                next_full = started + self.interval_s
            any_watched = False
            for job in jobs:
                watched = job.watched()
                any_watched = any_watched or watched
                if not (full or watched):
                    continue
                try:
                    alive = job.poll(started)
                    error = None
                except Exception as exc:  # the job's failure, not the poller's
                    alive, error = False, exc
                if not alive:
                    with self._lock:
                        self._jobs.remove(job)
                    job.finish(error)
            pause = next_full - time.monotonic()
            if any_watched:
                pause = min(pause, self.watched_interval_s)
            self._wake.wait(max(0.0, pause))
            self._wake.clear()


POLLER = StreamPoller()
