"""The shared poller thread: runs every job each round, delivers a job's failure to it
alone, and goes on with the others."""

from __future__ import annotations

import threading
import time

from recorder._poller import StreamPoller


class Job:
    def __init__(self, rounds: int, error: Exception | None = None) -> None:
        self.rounds = rounds
        self.error = error
        self.polled = 0
        self.result: tuple[BaseException | None] | None = None
        self.done = threading.Event()
        self.is_watched = False

    def poll(self, now: float) -> bool:
        self.polled += 1
        if self.polled >= self.rounds:
            if self.error is not None:
                raise self.error
            return False
        return True

    def watched(self) -> bool:
        return self.is_watched

    def finish(self, error: BaseException | None) -> None:
        self.result = (error,)
        self.done.set()


def wait_until_polled(job: Job) -> None:
    deadline = time.monotonic() + 5
    while job.polled == 0:
        assert time.monotonic() < deadline, "the poller never read the job"
        time.sleep(0.005)


def test_jobs_run_each_round_until_over_and_failures_stay_with_their_job() -> None:
    poller = StreamPoller(interval_s=0.01)
    ok, failing, long = Job(3), Job(2, ValueError("boom")), Job(30)
    for job in (ok, failing, long):
        poller.add(job)
    assert long.done.wait(5)
    assert ok.done.is_set() and failing.done.is_set()
    assert ok.result == (None,) and ok.polled == 3
    assert isinstance(failing.result[0], ValueError) and failing.polled == 2
    assert long.result == (None,) and long.polled == 30
    assert poller.alive()
    later = Job(2)  # the idle poller takes new jobs
    poller.add(later)
    assert later.done.wait(5) and later.result == (None,)


def test_a_watched_job_is_read_between_full_rounds() -> None:
    # full rounds every 10 s: only the watched job is read in between
    poller = StreamPoller(interval_s=10.0, watched_interval_s=0.01)
    watched, plain = Job(20), Job(1000)
    watched.is_watched = True
    poller.add(plain)
    # the first full round is over and the poller pauses till the next, 10 s away: a job
    # added now is looked at at once, not after that pause
    wait_until_polled(plain)
    poller.add(watched)
    assert watched.done.wait(5)
    assert watched.polled == 20
    assert plain.polled <= 2  # the first full round (and at most one more)


def test_a_job_someone_starts_watching_is_read_at_once() -> None:
    poller = StreamPoller(interval_s=10.0, watched_interval_s=0.01)
    job = Job(1000)
    poller.add(job)
    wait_until_polled(job)
    job.is_watched = True  # a live viewer came: the tap calls wake()
    poller.wake()
    deadline = time.monotonic() + 5
    while job.polled < 10:
        assert time.monotonic() < deadline, job.polled
        time.sleep(0.005)
