"""The web client in Chromium against three real nodes and emulated cameras:
set-up page → add servers from the discovered list (a wrong owner password shows
the reason) → cameras (a name with markup characters shown as typed) → failover
settings and priorities by multi-select → a viewer sees Live and Playback only →
a grid tile plays its sub-stream (frames decoded, time moving on), full-screen the
main stream → kill a node: the grid shows its camera on a backup without a reload
and its tile plays again, and a client on the dead node moves to another node → the
Events screen reads the failover from the log and gets the node's return pushed →
play back across the seam from a timeline click (frames decoded, wall-clock time
shown) and export →
detach with the 5-second confirm → detach the last server: two open clients show
the log-out text exactly.

The tests run in order and share the nodes (starting them is the slow part).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from node_harness import OWNER, OWNER_PASSWORD, NodeProcess, make_node, wait_until

from node.system import LAST_SERVER_MESSAGE

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect
pytestmark = pytest.mark.slow
INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
_spec = importlib.util.spec_from_file_location("integration_fixtures", INTEGRATION / "conftest.py")
assert _spec is not None and _spec.loader is not None
integration_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["integration_fixtures"] = integration_fixtures  # dataclasses look it up
_spec.loader.exec_module(integration_fixtures)

ODD_NAME = "Gate <b>\"1\"</b> & 'yard' 📷"
VIEWER, VIEWER_PASSWORD = "guard", "guard-password-1"
TIMEOUT_MS = 30_000


@dataclass
class Site:
    nodes: list[NodeProcess]
    emulator: Any
    shots: Path
    ids: dict[str, str] = field(default_factory=dict)  # node name -> server id
    cameras: dict[str, str] = field(default_factory=dict)  # camera name -> id

    @property
    def a(self) -> NodeProcess:
        return self.nodes[0]

    def token(self, node: NodeProcess | None = None) -> str:
        return (node or self.a).login()

    def api(self, node: NodeProcess | None = None) -> httpx.Client:
        return (node or self.a).api(self.token(node))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, screenshots: Path) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("web-nodes")
    cache = tmp_path_factory.mktemp("web-emulator-cache")
    emulator = integration_fixtures.start_emulator_process(cache, cameras=3)
    nodes: list[NodeProcess] = []
    try:
        others = [make_node(base, name=name) for name in ("web-b", "web-c")]
        # web-a finds the others as static peers (mDNS on loopback is not guaranteed)
        peers = [arg for other in others for arg in ("--peer", other.url)]
        first = make_node(base, name="web-a", args=peers)
        nodes = [first, *others]
        for node in nodes:
            node.start(wait=False)
        for node in nodes:
            node.wait_healthy()
        yield Site(nodes, emulator, screenshots)
    finally:
        for node in nodes:
            node.stop()
            print(f"----- node {node.name} log:\n{node.logs(80)}")
        emulator.stop()


def shot(page: Any, site: Site, name: str) -> None:
    path = site.shots / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")


def new_page(browser: Any, url: str, **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


def field_error(scope: Any, label: str) -> Any:
    """The error slot under the field labelled `label` inside `scope`."""
    page = getattr(scope, "page", scope)
    return scope.locator(".field", has=page.get_by_label(label, exact=True)).locator(".field-error")


VIDEO_PROGRESS = """(selector) => {
    const v = document.querySelector(selector);
    if (!v) return null;
    return [v.getVideoPlaybackQuality().totalVideoFrames, v.currentTime];
}"""


VIDEO_STATE = """(selector) => {
    const v = document.querySelector(selector);
    const tile = v && v.closest('.tile');
    return v && { frames: v.getVideoPlaybackQuality().totalVideoFrames, time: v.currentTime,
        readyState: v.readyState, error: v.error && v.error.message, src: v.src,
        stream: !!v.srcObject, tile: tile && { ...tile.dataset, text: tile.innerText } };
}"""


def wait_video_decodes(page: Any, selector: str, what: str, timeout: float = 40) -> None:
    """Waits until the <video> at `selector` has decoded frames and, after that, more
    frames with its current time moved on: a picture that plays, not one still. A
    reopened stream starts its counts again: the comparison starts again with it."""
    base: list[Any] = []

    def advanced() -> bool:
        now = page.evaluate(VIDEO_PROGRESS, selector)
        if not now or now[0] == 0:
            return False
        if not base or now[0] < base[0] or now[1] < base[1]:
            base[:] = now
            return False
        return now[0] > base[0] and now[1] > base[1]

    try:
        wait_until(advanced, timeout, f"{what}: frames decoded and the time moving on")
    except AssertionError as error:
        state = page.evaluate(VIDEO_STATE, selector)
        raise AssertionError(f"{error}; the video and its tile: {state}") from None


def log_in(page: Any, user: str = OWNER, password: str = OWNER_PASSWORD) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#nav").wait_for()


@pytest.fixture(scope="module")
def owner_page(browser: Any, site: Site) -> Iterator[Any]:
    page = new_page(browser, site.a.url + "/")
    yield page
    assert page.errors == [], page.errors
    page.context.close()


def test_served_with_strict_headers(site: Site) -> None:
    answer = httpx.get(site.a.url + "/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    module = httpx.get(site.a.url + "/web/app.js")
    assert module.headers["content-type"].startswith("text/javascript")
    again = httpx.get(site.a.url + "/web/app.js", headers={"If-None-Match": module.headers["etag"]})
    assert again.status_code == 304
    for bad in ("/web/../api/app.py", "/web/%2e%2e/api/app.py", "/web/nothing.js", "/web/"):
        assert httpx.get(site.a.url + bad).status_code == 404, bad


def test_setup_page_on_a_fresh_node(owner_page: Any, site: Site) -> None:
    page = owner_page
    page.get_by_role("heading", name="Set up a new system").wait_for()
    page.get_by_label("System name").fill("Warehouse")
    page.get_by_label("Owner user name").fill(OWNER)
    page.get_by_label("Owner password (at least 8 characters)").fill("short")
    page.get_by_label("Repeat the password").fill("short")
    shot(page, site, "01-setup")
    page.get_by_role("button", name="Set up system").click()
    # the API's reason, next to the password field
    error = field_error(page, "Owner password (at least 8 characters)")
    expect(error).to_contain_text("at least 8", timeout=TIMEOUT_MS)
    page.get_by_label("Owner password (at least 8 characters)").fill(OWNER_PASSWORD)
    page.get_by_label("Repeat the password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Set up system").click()
    page.get_by_role("heading", name="Live").wait_for(timeout=TIMEOUT_MS)
    assert httpx.get(site.a.url + "/api/v1/health").json()["state"] == "member"
    nav = page.locator("#nav a").all_inner_texts()
    assert nav == ["Live", "Playback", "Servers", "Failover", "Cameras", "Users", "Events"]


def test_add_servers_from_the_discovered_list(owner_page: Any, site: Site) -> None:
    page = owner_page
    page.get_by_role("link", name="Servers").click()
    add_b = page.get_by_role("button", name="Add web-b…")
    add_b.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Add web-c…").wait_for(timeout=TIMEOUT_MS)
    shot(page, site, "02-servers-discovered")
    add_b.click()
    dialog = page.locator("dialog")
    dialog.get_by_label("Owner password").fill("not-the-password")
    dialog.get_by_role("button", name="Add server").click()
    reason = field_error(dialog, "Owner password")
    expect(reason).to_contain_text("wrong user name or password", timeout=TIMEOUT_MS)
    shot(page, site, "03-add-server-wrong-password")
    dialog.get_by_label("Owner password").fill(OWNER_PASSWORD)
    dialog.get_by_role("button", name="Add server").click()
    page.locator("#detach-result").get_by_text("Added web-b.").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Add web-c…").click()
    dialog.get_by_label("Owner password").fill(OWNER_PASSWORD)
    dialog.get_by_role("button", name="Add server").click()
    page.locator("#detach-result").get_by_text("Added web-c.").wait_for(timeout=TIMEOUT_MS)
    rows = page.locator("#servers-table tbody tr")
    wait_until(lambda: rows.count() == 3, 20, "three servers in the table")
    page.locator("#servers-table tbody tr", has_text="web-c").get_by_text("alive").wait_for(
        timeout=TIMEOUT_MS
    )
    shot(page, site, "04-servers")
    with site.api() as api:
        site.ids = {s["name"]: s["id"] for s in api.get("/api/v1/servers").json()}
    assert set(site.ids) == {"web-a", "web-b", "web-c"}


def test_cameras_added_and_names_shown_as_typed(owner_page: Any, site: Site) -> None:
    page = owner_page
    page.get_by_role("link", name="Cameras").click()
    page.get_by_role("button", name="Add by RTSP URL…").click()
    dialog = page.locator("dialog")
    dialog.get_by_label("Name").fill(ODD_NAME)
    dialog.get_by_label("RTSP URL").fill("http://not-rtsp/")
    dialog.get_by_role("button", name="Add camera").click()
    url_error = field_error(dialog, "RTSP URL")
    expect(url_error).to_contain_text("rtsp://", timeout=TIMEOUT_MS)
    dialog.get_by_label("RTSP URL").fill(site.emulator.url(1))
    # the home server offered first is the node the browser is on
    # (the list fills from the servers API: wait for it rather than read it at once)
    expect(dialog.get_by_label("Home server")).to_have_value(site.ids["web-a"], timeout=TIMEOUT_MS)
    dialog.get_by_role("button", name="Add camera").click()
    row = page.locator("#cameras-table tbody tr").first
    row.wait_for(timeout=TIMEOUT_MS)
    assert row.locator("th").inner_text() == ODD_NAME
    assert page.locator("#cameras-table b").count() == 0  # no markup from the name
    with site.api() as api:
        for index, home in ((2, "web-b"), (3, "web-c")):
            answer = api.post(
                "/api/v1/cameras",
                json={
                    "name": f"Camera {index}",
                    "rtsp_url": site.emulator.url(index),
                    # the grid plays the second profile when a camera has one
                    "sub_rtsp_url": site.emulator.url(index, "sub"),
                    "home_server_id": site.ids[home],
                },
            )
            assert answer.status_code == 201, answer.text
        site.cameras = {c["name"]: c["id"] for c in api.get("/api/v1/cameras").json()}
    wait_until(lambda: page.locator("#cameras-table tbody tr").count() == 3, 20, "three rows")
    shot(page, site, "05-cameras")


def test_failover_settings_and_priorities_by_multiselect(owner_page: Any, site: Site) -> None:
    page = owner_page
    page.get_by_role("link", name="Failover").click()
    for name in ("web-a", "web-b"):
        card = page.locator(f"#failover-servers form[data-server-id='{site.ids[name]}']")
        card.wait_for(timeout=TIMEOUT_MS)
        card.get_by_label("Enable failover").check()
        card.get_by_label("Max cameras allowed on this server").fill("129")
        card.get_by_role("button", name="Save").click()
        error = card.locator(".field-error")
        expect(error).to_contain_text("128", timeout=TIMEOUT_MS)  # the API's reason, at the field
        card.get_by_label("Max cameras allowed on this server").fill("8")
        card.get_by_role("button", name="Save").click()
        card.get_by_text("Saved.").wait_for(timeout=TIMEOUT_MS)
    table = page.locator("#failover-cameras")
    wait_until(lambda: table.locator("tbody tr").count() == 3, 20, "three camera rows")
    # Camera 2 and Camera 3 (sorted after the odd name? no: by name) by click + shift-click
    names = table.locator("tbody th").all_inner_texts()
    first, last = names.index("Camera 2"), names.index("Camera 3")
    table.locator("tbody tr").nth(first).get_by_role("checkbox").click()
    table.locator("tbody tr").nth(last).get_by_role("checkbox").click(modifiers=["Shift"])
    assert page.locator("#selected-count").inner_text() == "2 selected"
    page.get_by_label("Priority of the selected cameras").select_option("high")
    page.get_by_role("button", name="Set priority").click()
    wait_until(
        lambda: (
            table.locator("tbody tr", has_text="Camera 3").locator(".priority").inner_text()
            == "High"
        ),
        20,
        "Camera 3 shown with priority High",
    )
    assert table.locator("tbody tr").nth(0).locator("[aria-label='continuous recording']").count()
    shot(page, site, "06-failover")
    with site.api() as api:
        servers = {s["name"]: s for s in api.get("/api/v1/servers").json()}
        assert servers["web-a"]["failover_enabled"] and servers["web-a"]["max_cameras"] == 8
        cameras = {c["name"]: c for c in api.get("/api/v1/cameras").json()}
    assert cameras["Camera 2"]["priority"] == cameras["Camera 3"]["priority"] == "high"
    assert cameras[ODD_NAME]["priority"] == "medium"


def test_viewer_sees_live_and_playback_only(browser: Any, site: Site) -> None:
    site.a.add_user(site.token(), VIEWER, "viewer", VIEWER_PASSWORD)
    page = new_page(browser, site.a.url + "/")
    log_in(page, VIEWER, VIEWER_PASSWORD)
    assert page.locator("#nav a").all_inner_texts() == ["Live", "Playback"]
    # once idle, the page loads the code of the screens this role may open, no other
    page.wait_for_function(
        "performance.getEntriesByType('resource')"
        ".some((entry) => entry.name.endsWith('/web/screens/playback.js'))",
        timeout=TIMEOUT_MS,
    )
    loaded = page.evaluate("performance.getEntriesByType('resource').map((entry) => entry.name)")
    admin_screens = re.compile(r"/screens/(servers|users|cameras)\.js$")
    assert not [name for name in loaded if admin_screens.search(name)]
    page.goto(site.a.url + "/#/servers")  # typed by hand: still not shown
    page.get_by_role("heading", name="Live").wait_for()
    # the API refuses too
    with site.a.api(site.a.login(VIEWER, VIEWER_PASSWORD)) as api:
        assert api.get("/api/v1/users").status_code == 403
    page.context.close()


def test_killed_node_cameras_shown_on_backups_without_reload(browser: Any, site: Site) -> None:
    page = new_page(browser, site.a.url + "/")
    log_in(page)
    page.get_by_role("button", name="4", exact=True).click()
    tile_selector = f".tile[data-camera-id='{site.cameras['Camera 3']}']"
    tile = page.locator(tile_selector)
    odd = page.locator(f".tile[data-camera-id='{site.cameras[ODD_NAME]}']")
    tile.and_(page.locator("[data-state='home']")).wait_for(timeout=60_000)
    assert odd.locator(".tile-name").inner_text() == ODD_NAME
    assert "Recording here, on web-c" in tile.inner_text()
    # the grid tile plays the camera's sub-stream through the player
    wait_video_decodes(page, f"{tile_selector} video", "Camera 3's grid tile")
    assert tile.get_attribute("data-stream") == "sub"
    expect(tile).to_have_attribute("data-video", "playing", timeout=TIMEOUT_MS)
    assert "Recording here, on web-c" in tile.inner_text()  # the state text stays
    shot(page, site, "07-live")
    tile.click()  # full-screen: the main stream
    expect(tile).to_have_attribute("data-stream", "main", timeout=TIMEOUT_MS)
    wait_video_decodes(page, f"{tile_selector} video", "Camera 3 full-screen")
    shot(page, site, "07b-live-main")
    tile.click()  # back to the grid: the sub-stream again
    expect(tile).to_have_attribute("data-stream", "sub", timeout=TIMEOUT_MS)
    # a client connected to web-c: it must move to another node by itself, even when
    # web-c dies before answering the page's own request for the system's servers
    # (held here): the log-in answer told it where the others are
    on_c = new_page(browser, site.nodes[2].url + "/")
    held: list[Any] = []
    on_c.route(f"{site.nodes[2].url}/api/v1/servers", lambda route: held.append(route))
    log_in(on_c)
    page.evaluate("window.notReloaded = true")
    killed_at = time.monotonic()
    site.nodes[2].kill()
    backup = tile.and_(page.locator("[data-state='backup']"))
    backup.wait_for(timeout=TIMEOUT_MS)
    elapsed = time.monotonic() - killed_at
    print(f"grid showed Camera 3 on a backup {elapsed:.1f} s after the kill")
    assert re.search(r"Recording on backup server web-[ab]", tile.inner_text())
    assert page.evaluate("window.notReloaded") is True
    on_c.locator("#banner").get_by_text(re.compile("lost|down|Moving")).wait_for(timeout=TIMEOUT_MS)
    # three failed health checks 2 s apart, then a probe of the others: a bound well above
    # that, since the page's timers slow down on a loaded machine
    others = rf"^({re.escape(site.a.url)}|{re.escape(site.nodes[1].url)})/"
    on_c.wait_for_url(re.compile(others), timeout=90_000)
    on_c.get_by_role("heading", name="Live").wait_for(timeout=TIMEOUT_MS)
    assert on_c.locator("#nav a").count() == 7  # still logged in, as the owner
    on_c.context.close()
    # the tile plays again: web-a now relays the camera from its backup server
    wait_video_decodes(page, f"{tile_selector} video", "Camera 3 after the failover", 60)
    shot(page, site, "08-live-after-failover")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, site, "09-live-phone")
    page.context.close()


def test_events_history_from_the_log_and_live_updates(browser: Any, site: Site) -> None:
    page = new_page(browser, site.a.url + "/")
    log_in(page)
    page.get_by_role("link", name="Events").click()
    rows = page.locator("#events-list li")
    # the failover above, read back from the log
    rows.filter(has_text="Server web-c is down").first.wait_for(timeout=TIMEOUT_MS)
    rows.filter(has_text="Camera 3 taken over by web-").first.wait_for(timeout=TIMEOUT_MS)
    times = [t.get_attribute("datetime") for t in page.locator("#events-list li time").all()]
    assert times == sorted(times, reverse=True), "newest first"
    before = rows.count()
    site.nodes[2].start()  # its recordings come back into the playback timeline below
    # pushed over the event stream while the page is open
    rows.filter(has_text="Server web-c is up").first.wait_for(timeout=60_000)
    assert rows.count() > before
    shot(page, site, "09b-events")
    assert page.errors == [], page.errors
    page.context.close()


def test_playback_across_the_seam(browser: Any, site: Site) -> None:
    camera = site.cameras["Camera 3"]
    with site.api() as api:

        def two_holders() -> bool:
            end = time.time()
            query = {
                "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - 600)),
                "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)),
            }
            periods = api.get(f"/api/v1/cameras/{camera}/recordings", params=query).json()
            return len({p["server_id"] for p in periods["periods"]}) >= 2

        wait_until(two_holders, 60, "Camera 3 recorded on two servers")
    page = new_page(browser, site.a.url + f"/#/playback?camera={camera}", accept_downloads=True)
    log_in(page)
    page.goto(site.a.url + f"/#/playback?camera={camera}")
    page.get_by_role("button", name="5 min", exact=True).click()
    legend = page.locator("#timeline-legend li")
    wait_until(lambda: legend.count() >= 3, 20, "two servers and the gap in the legend")
    assert "recorded on web-c" in legend.all_inner_texts()
    periods = page.locator("#timeline .period")
    holders = {periods.nth(i).get_attribute("data-server-id") for i in range(periods.count())}
    assert site.ids["web-c"] in holders and len(holders) >= 2
    # click in the middle of the backup's (longest) period: the video decodes a frame
    # there (a hand-over can leave slivers of a period a pointer cannot hit)
    backups = page.locator(f"#timeline .period:not([data-server-id='{site.ids['web-c']}'])")
    widths = [
        (backups.nth(i).bounding_box() or {"width": 0})["width"] for i in range(backups.count())
    ]
    backup = backups.nth(widths.index(max(widths)))
    backup.click()
    wait_video_decodes(page, "#playback-video", "playback from the backup's period")
    # the wall-clock time of what plays, inside the period clicked
    status = page.locator("#playback-status")
    expect(status).to_have_attribute("data-wall-time", re.compile(r"^20"), timeout=TIMEOUT_MS)
    assert status.inner_text().startswith("Playing ")
    requested = datetime.fromisoformat(status.get_attribute("data-requested") or "")
    shown = datetime.fromisoformat(status.get_attribute("data-wall-time") or "")
    # from the clicked instant on (a key frame may lie a little before it)
    assert timedelta(seconds=-3) <= shown - requested <= timedelta(seconds=20), (requested, shown)
    shot(page, site, "10-playback")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Export MP4").click()
    saved = download.value.path()
    assert saved is not None and Path(saved).stat().st_size > 1000
    assert "Exported" in page.locator("#export-status").inner_text()
    page.context.close()


def test_detach_confirm_waits_5_s(owner_page: Any, site: Site) -> None:
    page = owner_page
    page.get_by_role("link", name="Servers").click()
    row = page.locator("#servers-table tbody tr", has_text="web-b")
    row.get_by_role("button", name="Detach…").click()
    confirm = page.locator("#detach-confirm")
    opened = time.monotonic()
    # disabled at once; the countdown starts when the node's dry run has answered
    expect(confirm).to_be_disabled()
    expect(confirm).to_have_text(re.compile(r"Detach \(\d\)"), timeout=TIMEOUT_MS)
    assert confirm.is_disabled()
    assert page.locator("#detach-summary").inner_text().startswith("the server becomes undefined")
    shot(page, site, "11-detach-countdown")
    confirm.and_(page.locator(":not([disabled])")).wait_for(timeout=TIMEOUT_MS)
    # the button can be pressed only after the node's wait (a lower bound: load only adds)
    assert time.monotonic() - opened >= 4.5
    confirm.click()
    page.locator("#detach-result").get_by_text("Detached web-b").wait_for(timeout=TIMEOUT_MS)
    wait_until(lambda: page.locator("#servers-table tbody tr").count() == 2, 20, "two servers")


def test_last_server_detach_logs_out_every_client(
    browser: Any, owner_page: Any, site: Site
) -> None:
    page = owner_page
    # detach web-c too, then web-a is the last server
    page.locator("#servers-table tbody tr", has_text="web-c").get_by_role(
        "button", name="Detach…"
    ).click()
    page.locator("#detach-confirm:not([disabled])").wait_for(timeout=TIMEOUT_MS)
    page.locator("#detach-confirm").click()
    wait_until(lambda: page.locator("#servers-table tbody tr").count() == 1, 20, "one server")
    other = new_page(browser, site.a.url + "/")
    log_in(other, VIEWER, VIEWER_PASSWORD)
    other.get_by_role("heading", name="Live").wait_for()
    page.locator("#servers-table tbody tr", has_text="web-a").get_by_role(
        "button", name="Detach…"
    ).click()
    warnings = page.locator("#detach-warnings")
    warnings.get_by_text("last server", exact=False).wait_for(timeout=TIMEOUT_MS)
    page.locator("#detach-confirm:not([disabled])").wait_for(timeout=TIMEOUT_MS)
    page.locator("#detach-confirm").click()
    for client in (page, other):
        text = client.locator("#forced-logout-text")
        text.wait_for(timeout=TIMEOUT_MS)
        assert text.inner_text() == LAST_SERVER_MESSAGE
    shot(other, site, "12-forced-logout")
    other.get_by_role("button", name="OK").click()
    other.get_by_role("heading", name="Set up a new system").wait_for(timeout=TIMEOUT_MS)
    assert other.errors == [], other.errors
    other.context.close()
