"""Start real `camkeep run` processes for integration tests.

    from node_harness import node_factory  # noqa: F401  (pytest fixture)

    def test_x(node_factory):
        node = node_factory()                      # free loopback port, tmp data dir
        node.setup()                               # system + owner (OWNER / OWNER_PASSWORD)
        api = node.api(node.login())               # httpx.Client with the bearer token
        assert api.get("/api/v1/cameras").json() == []

`node_factory(name=..., config="toml text", env={...}, args=[...], data_dir=...,
port=..., wait=True)` returns a `NodeProcess`; every node is stopped (SIGTERM, then
SIGKILL) when the test ends, and its log is printed (pytest shows it on failure).
`NodeProcess.restart()` starts it again on the same data folder and port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.ports import free_port
from node.cli._child_process import stop_process

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
OWNER = "owner"
OWNER_PASSWORD = "owner-password-1"


def camkeep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "node.cli", *args]


def wait_until(
    predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.2
) -> Any:
    """Poll until `predicate()` is truthy; return its value or fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, KeyError, IndexError, AssertionError) as error:
            last_error = error
        time.sleep(every_s)
    raise AssertionError(
        f"timed out after {timeout_s} s waiting for {what} (last error: {last_error!r})"
    )


def fast_failover_config(
    *,
    segment_seconds: int = 2,
    licensed_channels: int = 8,
    failover: str = "",
    extra: str = "",
) -> str:
    """A node's config for tests of failover: gossip every 0.1 s (dead after 1 s), a
    plan every 0.3 s, short segments, no mDNS. `failover` is more lines of the
    [failover] section, `extra` more TOML after it (whole sections)."""
    return f"""
segment_seconds = {segment_seconds}
licensed_channels = {licensed_channels}
[discovery]
mdns = false
[gossip]
interval_s = 0.1
suspect_after_s = 0.5
dead_after_s = 1.0
[failover]
plan_interval_s = 0.3
{failover}
[retention]
min_free_bytes = 1_000_000
{extra}"""


@dataclass
class NodeProcess:
    name: str
    port: int
    data_dir: Path
    log_path: Path
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # ------------------------------------------------------------ process

    def start(self, wait: bool = True) -> NodeProcess:
        log = open(self.log_path, "a")  # noqa: SIM115 - closed by the pump thread
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        process = self.process

        def pump() -> None:
            for line in process.stdout:  # type: ignore[union-attr]
                self.output.append(line.rstrip("\n"))
                log.write(line)
                log.flush()
            log.close()

        threading.Thread(target=pump, daemon=True).start()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"node {self.name} exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                answer = httpx.get(f"{self.url}/api/v1/health", timeout=2)
                if answer.status_code == 200:
                    return answer.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"node {self.name} not healthy within {timeout_s} s:\n{self.logs()}")

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s`; returns the exit code."""
        if self.process is None:
            return None
        return stop_process(self.process, timeout_s)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, wait: bool = True) -> NodeProcess:
        self.stop()
        return self.start(wait)

    def logs(self, lines: int = 200) -> str:
        return "\n".join(self.output[-lines:])

    # ---------------------------------------------------------------- API

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def setup(
        self, owner: str = OWNER, password: str = OWNER_PASSWORD, system_name: str = "test system"
    ) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/api/v1/system/setup",
            json={"system_name": system_name, "owner": {"username": owner, "password": password}},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def login(self, username: str = OWNER, password: str = OWNER_PASSWORD) -> str:
        answer = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def add_user(
        self, token: str, username: str, role: str, password: str = "user-password-1"
    ) -> str:
        """Create a user and return a token of theirs."""
        with self.api(token) as api:
            answer = api.post(
                "/api/v1/users", json={"username": username, "password": password, "role": role}
            )
            assert answer.status_code == 201, answer.text
        return self.login(username, password)


def make_node(
    base: Path,
    *,
    name: str = "node1",
    config: str | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    data_dir: Path | None = None,
    port: int | None = None,
) -> NodeProcess:
    """A NodeProcess (not started) with its own folder under `base`."""
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = camkeep_command(
        "run",
        "--data",
        str(data_dir or folder / "data"),
        "--listen",
        f"{HOST}:{port}",
        "--name",
        name,
    )
    if config is not None:
        config_path = folder / "camkeep.toml"
        config_path.write_text(config)
        argv += ["--config", str(config_path)]
    argv += list(args)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    full_env = {**clean_env, "PYTHONUNBUFFERED": "1", **(env or {})}
    return NodeProcess(name, port, data_dir or folder / "data", folder / "node.log", argv, full_env)


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Factory of started nodes; all stopped at the end, their logs printed."""
    started: list[NodeProcess] = []

    def start(*, wait: bool = True, **options: Any) -> NodeProcess:
        node = make_node(tmp_path / "nodes", **options)
        started.append(node)
        return node.start(wait)

    yield start
    for node in started:
        code = node.stop()
        print(f"----- node {node.name} (exit {code}) log:\n{node.logs()}")


@pytest.fixture
def member_node(node_factory: Callable[..., NodeProcess]) -> NodeProcess:
    """A started node with a system set up (owner OWNER / OWNER_PASSWORD)."""
    node = node_factory()
    node.setup()
    return node
