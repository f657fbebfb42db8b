"""Run Schemathesis against a running camkeep node: its own command line, every phase
(examples, coverage, fuzzing, stateful), the checks of `schemathesis.toml`, as the
role whose token is given. Used by tests/integration/test_api_schemathesis.py (a
bounded run) and bench/fuzz_api.py (a long one).

The operations come from the node's `/openapi.json` at run time, so every route in
the public document is tested, including routes added after this file was written.
The node-to-node routes are not in that document; `hidden_routes` lists them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from node_harness import OWNER, OWNER_PASSWORD, NodeProcess, wait_until

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "schemathesis_hooks.py"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "use_after_free",
)


@dataclass(frozen=True)
class FuzzTarget:
    """The node under test and the emulated camera its example cameras go to."""

    url: str
    server_id: str  # the node itself: never really detached (schemathesis_hooks.py)
    emulator_rtsp_url: str
    emulator_onvif_port: int


@dataclass
class RunResult:
    role: str
    exit_code: int
    output: str  # the schemathesis report for people: failures with curl commands
    report: dict[str, Any]  # its JSON report
    cases_per_phase: dict[str, int]  # test cases sent, per phase

    @property
    def operations(self) -> int:
        return int(self.report.get("operations", {}).get("tested", 0))

    @property
    def failures(self) -> int:
        cases = self.report.get("test_cases", {})
        return int(cases.get("unique_failures", 0)) + len(self.report.get("errors", []))

    @property
    def phase_status(self) -> dict[str, str]:
        return {name: p.get("status", "?") for name, p in self.report.get("phases", {}).items()}

    def problems(self) -> list[str]:
        """Why this run does not count as a clean, complete run (empty when it does)."""
        problems = []
        if self.exit_code != 0 or self.failures:
            problems.append(f"{self.failures} failure(s), exit code {self.exit_code}")
        for phase, status in self.phase_status.items():
            if status not in ("success", "skip") or (status == "skip" and phase != "examples"):
                problems.append(f"phase {phase}: {status}")
        if not self.report.get("complete", False):
            problems.append(f"stopped early: {self.report.get('stop_reason')}")
        return problems

    def summary(self) -> str:
        phases = ", ".join(f"{k} {v}" for k, v in self.cases_per_phase.items())
        return (
            f"{self.role}: {self.operations} operations, {sum(self.cases_per_phase.values())}"
            f" test cases ({phases}), {self.failures} failures"
        )


def _cases_per_phase(ndjson: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished:
            counts[finished["phase"]] += len(finished.get("recorder", {}).get("cases", {}))
    return {phase: counts.get(phase, 0) for phase in PHASES}


def run_schemathesis(
    target: FuzzTarget,
    token: str,
    role: str,
    workdir: Path,
    *,
    max_examples: int,
    seed: int | None = None,
    timeout_s: float = 600.0,
) -> RunResult:
    """One `schemathesis run` of every phase against `target` with `token`."""
    workdir.mkdir(parents=True, exist_ok=True)
    json_report, ndjson_report = workdir / f"{role}.json", workdir / f"{role}.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{target.url}/openapi.json", "--phases", ",".join(PHASES),
        "--checks", ",".join(CHECKS), "--max-examples", str(max_examples),
        "--report", "json,ndjson", "--report-json-path", str(json_report),
        "--report-ndjson-path", str(ndjson_report),
    ]  # fmt: skip
    if seed is not None:
        command += ["--seed", str(seed)]
    env = {
        **os.environ,
        "FUZZ_BEARER_TOKEN": token,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "PROTECTED_SERVER_ID": target.server_id,
        "EMULATOR_RTSP_URL": target.emulator_rtsp_url,
        "EMULATOR_ONVIF_PORT": str(target.emulator_onvif_port),
    }
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    output = done.stdout + done.stderr
    report = json.loads(json_report.read_text()) if json_report.exists() else {}
    cases = _cases_per_phase(ndjson_report) if ndjson_report.exists() else {}
    return RunResult(role, done.returncode, output, report, cases)


# ---------------------------------------------------------------- the node's data

CAMERAS = 3
OTHER_LOOPBACK = "127.0.0.2"


@dataclass(frozen=True)
class PreparedSystem:
    target: FuzzTarget
    owner_token: str
    viewer_token: str


def prepare_system(node: NodeProcess, emulator: Any) -> PreparedSystem:
    """Set up a system on the undefined `node`: the owner, a viewer, and a camera of
    `emulator` per camera it serves, all recording before this returns."""
    node.setup()
    owner = node.login()
    viewer = node.add_user(owner, "viewer1", "viewer")
    with node.api(owner) as api:
        for index in range(1, emulator.cameras + 1):
            answer = api.post(
                "/api/v1/cameras", json={"name": f"cam {index}", "rtsp_url": emulator.url(index)}
            )
            assert answer.status_code == 201, answer.text
        wait_until(
            lambda: all(
                c["status"]["state"] == "recording" for c in api.get("/api/v1/cameras").json()
            ),
            60,
            "every camera recording",
        )
    server_id = node.wait_healthy()["node_id"]
    target = FuzzTarget(node.url, server_id, emulator.url(1), emulator.onvif_port)
    return PreparedSystem(target, owner, viewer)


def still_intact(
    node: NodeProcess, server_id: str, before: dict[tuple[str, str], tuple[Any, ...]]
) -> list[str]:
    """What is wrong with the node after an owner's run (empty when nothing): it must
    be alive and a member, answer health and login, and keep its system, its owner
    and its own server record (cameras and other users may come and go)."""
    problems = []
    health = node.wait_healthy()
    if health.get("state") != "member" or health.get("node_id") != server_id:
        problems.append(f"health: {health}")
    after = system_records(node.data_dir)
    for key in (("system", "system"), ("user", OWNER)):
        if after.get(key) != before.get(key):
            problems.append(f"record {key} changed or is gone")
    if after.get(("server", server_id)) is None:
        problems.append("the node's own server record is gone")
    answer = login_from(node.url, OWNER, OWNER_PASSWORD, OTHER_LOOPBACK)
    if answer.status_code != 200:
        problems.append(f"login: {answer.status_code} {answer.text}")
    return problems


def system_records(data_dir: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every replicated record of the node (users, servers, cameras, the system) with
    its version, read from its SQLite file without writing to it."""
    uri = f"file:{data_dir / 'camkeep.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        rows = db.execute(
            "SELECT kind, key, value_json, wall_ms, counter, node_id FROM records"
        ).fetchall()
    return {(kind, key): tuple(rest) for kind, key, *rest in rows}


def login_from(url: str, username: str, password: str, address: str) -> httpx.Response:
    """Log in from a chosen loopback address: failed logins a fuzz run made from
    127.0.0.1 slow down that address only, not a genuine user elsewhere."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(
            f"{url}/api/v1/auth/login", json={"username": username, "password": password}
        )
