"""GET /api/v1/cameras/discovered lists emulated cameras found by WS-Discovery on
the node's (loopback) interface, and marks those already added."""

from __future__ import annotations

import node_harness
import pytest

node_factory = node_harness.node_factory  # fixture


def discovery_config(port: int, timeout_s: float) -> str:
    return (
        '[discovery]\ninterfaces = ["127.0.0.1"]\n'
        f"ws_discovery_port = {port}\nws_discovery_timeout_s = {timeout_s}\n"
    )


@pytest.mark.slow
def test_discovered_cameras(node_factory, emulator_factory) -> None:
    cameras = emulator_factory(cameras=2, wsd=True)
    config = discovery_config(cameras.wsd_port, 1.5)
    node = node_factory(config=config)
    node.setup()
    token = node.login()
    with node.api(token) as api:
        found = api.get("/api/v1/cameras/discovered").json()
        ports = sorted(c["port"] for c in found)
        assert ports == [cameras.onvif_port, cameras.onvif_port + 1], found
        assert all(c["host"] == "127.0.0.1" and c["already_added"] is False for c in found)
        assert all(c["endpoint"].startswith("urn:uuid:") for c in found)
        first = min(found, key=lambda c: c["port"])
        body = {
            "name": first["name"] or "cam",
            "onvif": {"host": first["host"], "port": first["port"]},
        }
        assert api.post("/api/v1/cameras", json=body).status_code == 201
        found = api.get("/api/v1/cameras/discovered").json()
        assert {c["port"]: c["already_added"] for c in found} == {
            cameras.onvif_port: True,
            cameras.onvif_port + 1: False,
        }
        viewer = node.add_user(token, "vic", "viewer")
    with node.api(viewer) as api:
        assert api.get("/api/v1/cameras/discovered").status_code == 403


def test_discovered_cameras_cli(node_factory, emulator_factory) -> None:
    import os
    import subprocess

    cameras = emulator_factory(cameras=1, wsd=True)
    config = discovery_config(cameras.wsd_port, 1.0)
    node = node_factory(config=config)
    node.setup()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    env.update(
        CAMKEEP_SERVER=node.url,
        CAMKEEP_USER=node_harness.OWNER,
        CAMKEEP_PASSWORD=node_harness.OWNER_PASSWORD,
    )
    result = subprocess.run(
        node_harness.camkeep_command("cameras", "discovered"),
        cwd=node_harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"127.0.0.1:{cameras.onvif_port}" in result.stdout
    assert result.stdout.splitlines()[0].split() == ["NAME", "ADDRESS", "HARDWARE", "ADDED"]
