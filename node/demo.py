"""`camkeep demo`: emulated cameras and a recording node on loopback, set up and
recording, until Ctrl-C. Every process it starts is stopped when it ends.

(Issue 5 extends this to several nodes with failover; the steps are functions so
more nodes are a loop away.)
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # the demo never binds anything else
START_TIMEOUT_S = 60.0
LOGIN_FILE = "demo-login.txt"


class DemoError(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=4, help="emulated cameras (default 4)")
    parser.add_argument("--port", type=int, default=7480, help="node API port (default 7480)")
    parser.add_argument("--rtsp-port", type=int, default=8554, help="cameras' RTSP port (8554)")
    parser.add_argument(
        "--onvif-port", type=int, default=8000, help="ONVIF port of camera 1 (8000)"
    )
    parser.add_argument("--control-port", type=int, default=8553, help="camera faults API (8553)")
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the node's data (recordings) here; default: a temporary folder removed at exit",
    )
    parser.add_argument("--owner", default="owner", help="owner user name (default owner)")


class Child:
    """A child process whose output is echoed with a prefix and scanned for a line."""

    def __init__(self, label: str, argv: Sequence[str], log_path: Path) -> None:
        self.label = label
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - open for the child's life
        self.process = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C goes to the demo, which stops us in order
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            self._log.write(line)
            self._log.flush()

    def wait_for_line(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(self.lines[-10:])
        raise DemoError(f"{self.label} did not start (see {self.log_path}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(2)
        self._log.close()


def _check_free(port: int, what: str) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            raise DemoError(
                f"port {port} ({what}) is in use; choose another with its option"
            ) from None


def _camkeep(*args: str) -> list[str]:
    return [sys.executable, "-m", "node.cli", *args]


def _wait_health(url: str, child: Child) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"{url}/api/v1/health", timeout=1)
            if answer.status_code == 200:
                return answer.json()
        time.sleep(0.2)
    tail = "\n".join(child.lines[-10:])
    raise DemoError(f"the node did not answer at {url} (see {child.log_path}):\n{tail}")


def _setup(url: str, data: Path, owner: str, health: dict) -> str:
    """Create the system (or reuse the one in a kept data folder); returns the password."""
    login_file = data / LOGIN_FILE
    if health["state"] == "member":
        if not login_file.exists():
            raise DemoError(
                f"{data} holds a system whose demo password is unknown; use another --data"
            )
        return login_file.read_text().split("\n")[1]
    password = secrets.token_urlsafe(9)
    answer = httpx.post(
        f"{url}/api/v1/system/setup",
        json={"system_name": "camkeep demo", "owner": {"username": owner, "password": password}},
        timeout=30,
    )
    if answer.status_code != 201:
        raise DemoError(f"setup failed: {answer.text}")
    login_file.write_text(f"{owner}\n{password}\n")
    login_file.chmod(0o600)
    return password


def _add_cameras(
    url: str, owner: str, password: str, args: argparse.Namespace, cam_pw: str
) -> None:
    login = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": owner, "password": password}, timeout=30
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    existing = {c["name"] for c in httpx.get(f"{url}/api/v1/cameras", headers=headers).json()}
    for index in range(1, args.cameras + 1):
        name = f"Camera {index}"
        if name in existing:
            continue
        body = {
            "name": name,
            "onvif": {
                "host": HOST,
                "port": args.onvif_port + index - 1,
                "username": "admin",
                "password": cam_pw,
            },
        }
        answer = httpx.post(f"{url}/api/v1/cameras", json=body, headers=headers, timeout=30)
        if answer.status_code != 201:
            raise DemoError(f"adding {name} failed: {answer.text}")
        print(f"  added {name} by ONVIF ({HOST}:{args.onvif_port + index - 1})", flush=True)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.cameras <= 128:
        print("camkeep: error: --cameras must be 1-128", file=sys.stderr)
        return 2
    temp = None if args.data else tempfile.TemporaryDirectory(prefix="camkeep-demo-")
    data = args.data or Path(temp.name)  # type: ignore[union-attr]
    data.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _check_free(args.port, "node API")
        _check_free(args.rtsp_port, "RTSP")
        _check_free(args.control_port, "camera control")
        for i in range(args.cameras):
            _check_free(args.onvif_port + i, "ONVIF")
        camera_password = secrets.token_urlsafe(6)
        print(f"starting {args.cameras} emulated cameras ...", flush=True)
        cameras = Child(
            "emulator",
            _camkeep(
                "emulate",
                "--host", HOST,
                "--cameras", str(args.cameras),
                "--rtsp-port", str(args.rtsp_port),
                "--onvif-port", str(args.onvif_port),
                "--control-port", str(args.control_port),
                "--no-wsd",
                "--user", "admin",
                "--password", camera_password,
            ),
            data / "emulator.log",
        )  # fmt: skip
        children.append(cameras)
        cameras.wait_for_line("ready", START_TIMEOUT_S * 3)  # first run encodes the loop
        url = f"http://{HOST}:{args.port}"
        print(f"starting node1 at {url} ...", flush=True)
        node = Child(
            "node1",
            _camkeep("run", "--data", str(data / "node1"), "--listen", f"{HOST}:{args.port}",
                     "--name", "node1"),
            data / "node1.log",
        )  # fmt: skip
        children.append(node)
        health = _wait_health(url, node)
        password = _setup(url, data, args.owner, health)
        _add_cameras(url, args.owner, password, args, camera_password)
        print(
            f"\ncamkeep demo is running\n"
            f"  API:        {url}/api/v1   (OpenAPI: {url}/docs)\n"
            f"  owner:      {args.owner} / {password}\n"
            f"  try:        CAMKEEP_SERVER={url} CAMKEEP_USER={args.owner}"
            f" CAMKEEP_PASSWORD={password} camkeep cameras list\n"
            f"  faults:     curl -X POST http://{HOST}:{args.control_port}/cameras/1/fault"
            f' -d \'{{"mode": "offline"}}\'\n'
            f"  data, logs: {data}\n"
            f"  stop:       Ctrl-C (stops the cameras and the node)\n",
            flush=True,
        )
        while not stop.is_set():
            for child in children:
                if child.process.poll() is not None:
                    raise DemoError(f"{child.label} exited (see {child.log_path})")
            stop.wait(0.5)
        return 0
    except DemoError as error:
        print(f"camkeep demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping ...", file=sys.stderr, flush=True)
        for child in reversed(children):
            child.stop()
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.cleanup()
