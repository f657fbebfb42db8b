"""The management commands against a real node: setup, cameras, recordings,
export, servers, users; readable tables, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import node_harness
from node_harness import ROOT, NodeProcess, camkeep_command, wait_until

node_factory = node_harness.node_factory  # fixture


def cli(
    node: NodeProcess, *args: str, user: str | None = "boss", password: str = "boss-password-1"
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    env["CAMKEEP_SERVER"] = node.url
    if user:
        env.update(CAMKEEP_USER=user, CAMKEEP_PASSWORD=password)
    return subprocess.run(
        camkeep_command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_management_commands(node_factory, emulator_factory, tmp_path: Path) -> None:
    cameras = emulator_factory(cameras=2, user="admin", password="cam-pw-123")
    node = node_factory(env={"CAMKEEP_SEGMENT_SECONDS": "2"})
    out = ok(
        cli(
            node,
            "setup",
            "--system-name",
            "cli site",
            "--owner",
            "boss",
            "--password",
            "boss-password-1",
            user=None,
        )
    )
    assert "system 'cli site' created" in out
    again = cli(
        node,
        "setup",
        "--system-name",
        "x",
        "--owner",
        "boss",
        "--password",
        "boss-password-1",
        user=None,
    )
    assert (
        again.returncode == 1
        and again.stderr.strip() == "camkeep: error: this server already belongs to a system"
    )

    onvif = f"127.0.0.1:{cameras.onvif_port}"
    credentials = ["--camera-user", "admin", "--camera-password", "cam-pw-123"]
    added = cli(
        node,
        "cameras",
        "add",
        "--name",
        "gate",
        "--onvif",
        onvif,
        *credentials,
        "--priority",
        "high",
    )
    assert "camera 'gate' added" in ok(added)
    assert "adding camera 'gate'" in added.stderr  # the progress line
    ok(cli(node, "cameras", "add", "--name", "yard", "--rtsp", cameras.url(2, credentials=True)))
    bad = cli(node, "cameras", "add", "--name", "x", "--onvif", onvif,
              "--camera-user", "admin", "--camera-password", "nope")  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("camkeep: error: ONVIF: camera refused")

    def listing() -> str:
        return ok(cli(node, "cameras", "list"))

    table = wait_until(
        lambda: (t := listing()).count("recording") == 2 and t, 30, "two cameras recording"
    )
    header = table.splitlines()[0].split()
    assert header[:4] == ["ID", "NAME", "STATE", "PRIORITY"]
    assert "cam-pw-123" not in table
    shown = json.loads(ok(cli(node, "cameras", "show", "gate")))
    assert shown["name"] == "gate" and "password" not in shown

    assert "2 camera(s) set to priority low" in ok(
        cli(node, "cameras", "priority", "low", "gate", "yard")
    )
    assert (
        cli(node, "cameras", "priority", "low", "ghost").stderr.strip()
        == "camkeep: error: no camera 'ghost'"
    )

    time.sleep(4)
    periods = ok(cli(node, "recordings", "yard", "--last", "10m"))
    assert periods.splitlines()[0].split() == ["START", "END", "SECONDS", "SERVER"]
    assert len(periods.splitlines()) >= 2
    target = tmp_path / "yard.mp4"
    exported = cli(node, "export", "yard", "--last", "2m", "-o", str(target))
    assert "wrote" in ok(exported) and target.stat().st_size > 1000
    assert not Path(str(target) + ".part").exists()
    assert cli(node, "export", "yard", "--last", "soon", "-o", str(target)).returncode == 1

    servers = ok(cli(node, "servers", "list"))
    assert "alive" in servers and "off" in servers
    assert "failover on, max cameras 10" in ok(
        cli(node, "servers", "failover", "node1", "--enable", "--max-cameras", "10")
    )
    too_many = cli(node, "servers", "failover", "node1", "--enable", "--max-cameras", "500")
    assert too_many.returncode == 1 and "max_cameras" in too_many.stderr

    assert "added as viewer" in ok(
        cli(node, "users", "add", "eve", "--role", "viewer", "--new-password", "eve-password-1")
    )
    denied = cli(node, "cameras", "delete", "gate", user="eve", password="eve-password-1")
    assert denied.returncode == 1 and "needs the admin role" in denied.stderr
    wrong = cli(node, "cameras", "list", password="wrong-password")
    assert wrong.stderr.strip() == "camkeep: error: wrong user name or password"
    assert "deleted" in ok(cli(node, "cameras", "delete", "gate"))
    assert "gate" not in listing()
