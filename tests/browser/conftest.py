"""Browser tests: Debian's Chromium driven by Playwright, against real `camkeep run`
nodes and `camkeep emulate` cameras on loopback.

    def test_x(chromium, ...):
        page = chromium.new_page()

`chromium` (also named `browser`) is one browser per test module (Playwright
cannot download its own here: Debian's /usr/bin/chromium); `screenshots` is a folder
for the pages' pictures, printed at the end so a person can look at them. The tests
skip with the reason when it or Playwright is missing. The node and emulator helpers
of tests/integration are reused.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
sys.path.insert(0, str(INTEGRATION))
sys.path.insert(0, str(HERE))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # WebRTC on loopback: offer the loopback address, and plain addresses rather than
    # mDNS names (the node answers with its loopback host candidate)
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def _integration_fixtures():
    """tests/integration/conftest.py as a module (its emulator starter), under a name
    that does not clash with this conftest."""
    spec = importlib.util.spec_from_file_location(
        "integration_fixtures", INTEGRATION / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


integration = _integration_fixtures()
start_emulator_process = integration.start_emulator_process


# One browser per test module, not per session: Playwright's sync API keeps its event
# loop marked as running in this thread while it is open, so any later test that runs
# an asyncio loop of its own (most of the other tiers) would fail after the browser
# tests if the browser outlived them.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (bash .ci/setup installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (the test extra)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(chromium: object) -> object:
    return chromium


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("web-screenshots")
    yield folder
    print(f"\nweb client screenshots: {folder}")


@pytest.fixture(scope="session")
def browser_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator-cache")


def have_ffprobe() -> bool:
    return shutil.which("ffprobe") is not None
