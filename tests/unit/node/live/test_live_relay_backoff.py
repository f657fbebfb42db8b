"""Relays to a server that fails before its first frame are asked again only after a
doubling pause (a killed server is not hammered until membership declares it dead)."""

from __future__ import annotations

from node.live._service import RelayBackoff


def test_failures_in_a_row_double_the_pause_up_to_the_cap() -> None:
    backoff = RelayBackoff(first_s=0.25, max_s=2.0)
    assert backoff.may_ask("b", 0.0)
    assert backoff.failed("b", 0.0) == 1
    assert not backoff.may_ask("b", 0.2) and backoff.may_ask("b", 0.25)
    assert backoff.failed("b", 0.25) == 2
    assert not backoff.may_ask("b", 0.7) and backoff.may_ask("b", 0.75)
    for count in range(3, 8):
        assert backoff.failed("b", 10.0) == count
    assert not backoff.may_ask("b", 11.9) and backoff.may_ask("b", 12.0)  # capped at 2 s
    assert backoff.may_ask("c", 10.0)  # another server is not held back


def test_a_relay_that_delivered_resets_the_pause() -> None:
    backoff = RelayBackoff(first_s=0.25, max_s=2.0)
    backoff.failed("b", 0.0)
    backoff.failed("b", 0.3)
    backoff.succeeded("b")
    assert backoff.may_ask("b", 0.31)
    assert backoff.failed("b", 1.0) == 1  # counting starts again
