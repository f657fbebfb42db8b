"""server_clock_skew events: once per change of a server's clock state, no storm."""

from __future__ import annotations

from node.events import ClockWatch, EventType


def test_written_on_entering_and_once_when_back_to_ok() -> None:
    watch = ClockWatch()
    assert watch.observe("x", "ok", 0.1, i_report=True, named=False) is None
    entered = watch.observe("x", "refused", 3600.04, i_report=True, named=True)
    assert entered is not None
    assert (entered.type, entered.server_id) == (EventType.SERVER_CLOCK_SKEW.value, "x")
    assert entered.details == {"offset_s": 3600.0, "state": "refused"}
    for _ in range(100):  # checked every second while it stays wrong: nothing new
        assert watch.observe("x", "refused", 3600.0, i_report=True, named=True) is None
    assert watch.observe("x", None, None, i_report=True, named=True) is None  # unknown
    assert watch.observe("x", "refused", 3600.0, i_report=True, named=True) is None
    better = watch.observe("x", "skewed", 5.0, i_report=True, named=True)
    assert better is not None and better.details["state"] == "skewed"
    back = watch.observe("x", "ok", 0.2, i_report=False, named=False)
    assert back is not None and back.details == {"offset_s": 0.2, "state": "ok"}
    assert watch.observe("x", "ok", 0.1, i_report=True, named=False) is None


def test_only_the_reporter_writes_and_only_about_the_server_judged_off() -> None:
    watch = ClockWatch()
    assert watch.observe("x", "refused", 3600.0, i_report=False, named=True) is None
    # a peer that agrees with the others that *this* node is off is not named
    assert watch.observe("a", "refused", -3600.0, i_report=True, named=False) is None
    # nothing was written about them, so their return to ok writes nothing either
    assert watch.observe("x", "ok", 0.0, i_report=True, named=False) is None
    assert watch.observe("a", "ok", 0.0, i_report=True, named=False) is None


def test_small_skew_is_an_event_too() -> None:
    watch = ClockWatch()
    new = watch.observe("b", "skewed", -2.54, i_report=True, named=True)
    assert new is not None and new.details == {"offset_s": -2.5, "state": "skewed"}


def test_a_tiny_negative_offset_is_written_as_zero() -> None:
    watch = ClockWatch()
    watch.observe("b", "skewed", 3.0, i_report=True, named=True)
    back = watch.observe("b", "ok", -0.02, i_report=True, named=True)
    assert back is not None and str(back.details["offset_s"]) == "0.0"
