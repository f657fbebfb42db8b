"""`camkeep run` with a bad configuration: one clear line, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import node_harness
import pytest
from node_harness import ROOT, camkeep_command

from emulator.ports import free_port

node_factory = node_harness.node_factory  # fixture


def run_camkeep(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    return subprocess.run(
        camkeep_command(*args),
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line(result: subprocess.CompletedProcess, line: str, code: int = 2) -> None:
    assert result.returncode == code, result.stderr
    assert result.stderr.strip() == line
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[retention]\nmax_bytes = 0\n")
    result = run_camkeep(["run", "--config", str(config), "--data", str(tmp_path / "d")])
    assert_one_line(result, "camkeep: config error: retention.max_bytes: must be > 0")
    assert not (tmp_path / "d").exists()  # nothing was created


def test_bad_env_var(tmp_path: Path) -> None:
    result = run_camkeep(
        ["run", "--data", str(tmp_path / "d")], env={"CAMKEEP_LISTEN": "127.0.0.1:99999"}
    )
    assert_one_line(
        result, "camkeep: config error: listen: port must be 1-65535 (from CAMKEEP_LISTEN)"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("listen = ", "invalid TOML"),
        ("licensed_channels = 500", "licensed_channels: must be <= 128"),
        ("unknown_key = 1", "unknown_key: unknown key"),
    ],
)
def test_bad_config_file_variants(tmp_path: Path, text: str, line: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text + "\n")
    result = run_camkeep(["run", "--config", str(config), "--data", str(tmp_path / "d")])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert line in result.stderr
    assert result.stderr.startswith("camkeep: config error: ")


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_camkeep(["run", "--config", str(tmp_path / "none.toml")])
    assert_one_line(result, f"camkeep: config error: {tmp_path / 'none.toml'}: no such file")


def test_data_dir_in_use(tmp_path: Path, node_factory) -> None:
    node = node_factory()
    result = run_camkeep(
        ["run", "--data", str(node.data_dir), "--listen", f"127.0.0.1:{free_port()}"]
    )
    assert result.returncode == 1
    assert "is in use by another camkeep node" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_commands() -> None:
    result = run_camkeep(["--help"])
    for command in (
        "run",
        "setup",
        "cameras",
        "recordings",
        "export",
        "servers",
        "users",
        "demo",
        "emulate",
    ):
        assert command in result.stdout
    for command in ("run", "setup", "cameras", "recordings", "export", "servers", "users", "demo"):
        assert run_camkeep([command, "--help"]).returncode == 0


def test_management_command_errors_are_one_line(tmp_path: Path) -> None:
    # nothing listens on this port: a clear error, exit 1
    port = free_port()
    result = run_camkeep(
        [
            "cameras",
            "--server",
            f"http://127.0.0.1:{port}",
            "--user",
            "u",
            "--password",
            "p",
            "list",
        ]
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"camkeep: error: cannot reach http://127.0.0.1:{port}")
    result = run_camkeep(["cameras", "--server", f"http://127.0.0.1:{port}", "list"])
    assert "give --user and --password" in result.stderr
