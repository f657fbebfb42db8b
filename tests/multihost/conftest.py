"""Fixtures for multi-host tests: `lan(n)` gives n test hosts in network namespaces.

    def test_something(lan):
        net = lan(3)
        a, b, c = net.hosts

Every test here is marked `multihost`; it skips with the reason when namespaces
cannot be made (not root, no iproute2). See tests/multihost/netns.py for the API.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the integration tests' helpers (node_harness: configs, processes) serve here too
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "integration"))

import netns  # harness module next to this file

_LOG_TAIL_CHARS = 4000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.multihost)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_rep_{report.when}", report)


@pytest.fixture(scope="session")
def netns_available() -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    netns.sweep_stale_namespaces()


@pytest.fixture
def lan(
    netns_available: None, request: pytest.FixtureRequest
) -> Iterator[Callable[..., netns.Lan]]:
    """Factory: `lan(n_hosts)` -> a created netns.Lan, closed after the test.
    When the test fails, the tail of every process log is printed."""
    made: list[netns.Lan] = []

    def make(n_hosts: int, **kwargs: object) -> netns.Lan:
        net = netns.Lan(n_hosts, **kwargs).create()  # type: ignore[arg-type]
        made.append(net)
        return net

    try:
        yield make
    finally:
        report = getattr(request.node, "_rep_call", None)
        if report is not None and report.failed:
            for net in made:
                _print_logs(net)
        for net in made:
            net.close()


@pytest.fixture
def nft_available() -> None:
    reason = netns.nft_unavailable_reason()
    if reason:
        pytest.skip(reason)


def _print_logs(net: netns.Lan) -> None:
    for host in net.hosts:
        for proc in host.processes():
            text = host.log(proc)
            print(f"----- {host.name} {proc.args[4:]!r} exit={proc.poll()} -----")
            print(text[-_LOG_TAIL_CHARS:])
