"""Real camkeep nodes on test hosts, and the API calls the system tests make.

    cluster = Cluster(net)                    # net = lan(3)
    cluster.start(h1); cluster.start(h2)      # `camkeep run` on <host address>:7480
    token = cluster.setup(h1)                 # system + owner, returns owner's token
    cluster.add(h1, h2, token)                # POST /servers with the owner's password
    cluster.servers(h2, token)                # GET /servers asked from h2

Every request is made from inside a host (never from the root namespace); by
default from the host it is addressed to.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from typing import Any

import httpx
import netns

PORT = 7480
OWNER = "owner"
OWNER_PASSWORD = "owner-password-1"
START_TIMEOUT_S = 30.0


class Cluster:
    def __init__(self, net: netns.Lan) -> None:
        self.net = net
        self.procs: dict[str, subprocess.Popen] = {}

    def url(self, host: netns.Host) -> str:
        return f"http://{host.address}:{PORT}"

    def start(self, host: netns.Host, *extra: str, wait: bool = True) -> subprocess.Popen:
        proc = host.camkeep(
            [
                "run",
                "--listen",
                f"{host.address}:{PORT}",
                "--data",
                str(host.data_dir()),
                "--name",
                host.name,
                *extra,
            ],
            log_name="node",
        )
        self.procs[host.name] = proc
        if wait:
            host.wait_http(f"{self.url(host)}/api/v1/health", timeout_s=START_TIMEOUT_S)
        return proc

    def kill9(self, host: netns.Host) -> None:
        host.kill9(self.procs[host.name])

    def call(
        self,
        host: netns.Host,
        method: str,
        path: str,
        token: str | None = None,
        *,
        via: netns.Host | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`method path` on `host`'s API, sent from `via` (default: host itself)."""
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 30.0)
        return (via or host).http(method, f"{self.url(host)}{path}", headers=headers, **kwargs)

    def health(self, host: netns.Host) -> dict[str, Any]:
        return self.call(host, "GET", "/api/v1/health").json()

    def setup(self, host: netns.Host, name: str = "test system") -> str:
        answer = self.call(
            host,
            "POST",
            "/api/v1/system/setup",
            json={"system_name": name, "owner": {"username": OWNER, "password": OWNER_PASSWORD}},
        )
        assert answer.status_code == 201, answer.text
        return self.login(host)

    def login(self, host: netns.Host, user: str = OWNER, password: str = OWNER_PASSWORD) -> str:
        answer = self.call(
            host, "POST", "/api/v1/auth/login", json={"username": user, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def add(
        self,
        via: netns.Host,
        target: netns.Host,
        token: str,
        password: str = OWNER_PASSWORD,
    ) -> httpx.Response:
        return self.call(
            via,
            "POST",
            "/api/v1/servers",
            token,
            json={
                "url": self.url(target),
                "owner_username": OWNER,
                "owner_password": password,
            },
        )

    def servers(self, host: netns.Host, token: str) -> dict[str, dict[str, Any]]:
        answer = self.call(host, "GET", "/api/v1/servers", token, timeout=5.0)
        if answer.status_code != 200:
            return {}
        return {s["id"]: s for s in answer.json()}

    def node_id(self, host: netns.Host) -> str:
        return self.health(host)["node_id"]

    def form(self, hosts: list[netns.Host]) -> str:
        """Start nodes on every host, set up the first, add the others."""
        for host in hosts:
            if host.name not in self.procs:
                self.start(host)
        token = self.setup(hosts[0])
        for host in hosts[1:]:
            answer = self.add(hosts[0], host, token)
            assert answer.status_code == 201, answer.text
        return token

    def system_secret(self, host: netns.Host) -> tuple[str, bytes]:
        """(system id, secret) read from a node's database (for forging tests)."""
        conn = sqlite3.connect(host.data_dir() / "camkeep.db")
        try:
            row = conn.execute(
                "SELECT value_json FROM records WHERE kind = 'system' AND key = 'system'"
            ).fetchone()
        finally:
            conn.close()
        system = json.loads(row[0])
        return system["id"], bytes.fromhex(system["secret"])


def python() -> str:
    return sys.executable
