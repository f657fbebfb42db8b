"""`camkeep demo`: emulated cameras and a system of three recording nodes on loopback,
set up, cameras spread over the nodes, failover on everywhere, until Ctrl-C.

It prints the web address, the API URL, the owner's login and how to stop one node to watch its
cameras move to the others and come back when it is started again. Every process it
starts is stopped when it ends: on Ctrl-C/SIGINT (its handler is installed explicitly,
since `nohup`, `&` in a script and some CI runners start programs with SIGINT
ignored), SIGTERM, SIGHUP, and when its output is a pipe whose reader has gone
(`camkeep demo | tee log` after Ctrl-C): a failed print never ends the demo before it
has stopped its children. Should the demo itself be killed, its children get SIGTERM
from the kernel (`start_process`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import select
import shutil
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

from node.cli._child_process import start_process, stop_process
from node.system import Priority

HOST = "127.0.0.1"  # the demo never binds anything else
START_TIMEOUT_S = 60.0
LOGIN_FILE = "demo-login.txt"


class DemoError(Exception):
    pass


class DemoStopped(Exception):
    """A signal or the closed output pipe asked the demo to stop."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopper:
    """Turns the stop signals and a closed output into one stop request.

    The first request raises DemoStopped in the main thread (so even a start-up wait
    ends at once); once `cleaning` is set, further signals are ignored so that nothing
    interrupts stopping the children."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.cleaning = False

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.cleaning or self.requested.is_set():
            return
        self.requested.set()
        raise DemoStopped(signal.Signals(signum).name)

    def output_closed(self) -> None:
        """The reader of our output has gone: stop (without raising from a print)."""
        if not self.requested.is_set():
            self.requested.set()
        _silence_output()


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null: later prints (and Python's flush at exit)
    must not fail on a pipe nobody reads."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def _reader_gone(fd: int) -> bool:
    """True when `fd` is a pipe whose reading end is closed (poll reports an error)."""
    poller = select.poll()
    poller.register(fd, 0)
    with contextlib.suppress(OSError, ValueError):
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    return False


_stopper = Stopper()


def say(text: str = "", *, error: bool = False) -> None:
    """print() that treats a closed output as a request to stop, never as a crash."""
    try:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
    except (BrokenPipeError, OSError, ValueError):
        _stopper.output_closed()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, default=4, help="emulated cameras (default 4)")
    parser.add_argument(
        "--port", type=int, default=7480, help="API port of node1; node i uses port + i - 1 (7480)"
    )
    parser.add_argument("--nodes", type=int, default=3, help="recording nodes (default 3)")
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
        self._log = open(log_path, "a")  # noqa: SIM115 - open for the child's life
        self.process = start_process(
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
        stop_process(self.process, 10)
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


def camkeep_on_path() -> str:
    """How to type the camkeep command in this shell: `camkeep` when it is on PATH,
    else the full path of this installation's script (e.g. .venv/bin/camkeep)."""
    script = Path(sys.executable).with_name("camkeep")
    found = shutil.which("camkeep")
    if found is not None and Path(found).resolve() == script.resolve():
        return "camkeep"
    return str(script) if script.exists() else f"{sys.executable} -m node.cli"


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


def _login(url: str, owner: str, password: str) -> dict[str, str]:
    login = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": owner, "password": password}, timeout=30
    )
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _add_nodes(
    url: str, headers: dict[str, str], owner: str, password: str, others: Sequence[tuple[str, str]]
) -> None:
    """Add the other (undefined) nodes to the system with the owner's password."""
    known = {s["url"] for s in httpx.get(f"{url}/api/v1/servers", headers=headers).json()}
    for name, other_url in others:
        if other_url in known:
            continue
        answer = httpx.post(
            f"{url}/api/v1/servers",
            json={"url": other_url, "owner_username": owner, "owner_password": password},
            headers=headers,
            timeout=30,
        )
        if answer.status_code != 201:
            raise DemoError(f"adding {name} to the system failed: {answer.text}")
        say(f"  added {name} ({other_url}) to the system")


def _wait_servers(url: str, headers: dict[str, str], count: int) -> list[dict]:
    deadline = time.monotonic() + START_TIMEOUT_S
    servers: list[dict] = []
    while time.monotonic() < deadline:
        servers = httpx.get(f"{url}/api/v1/servers", headers=headers, timeout=10).json()
        if len(servers) >= count and all(s.get("state") == "alive" for s in servers):
            return servers
        time.sleep(0.3)
    states = ", ".join(f"{s.get('name')}: {s.get('state')}" for s in servers)
    raise DemoError(f"the nodes did not all come alive in the system ({states})")


def _enable_failover(url: str, headers: dict[str, str], servers: list[dict]) -> None:
    for server in servers:
        limit = int(server["licensed_channels"])  # the API caps it at MAX_CHANNELS
        answer = httpx.put(
            f"{url}/api/v1/servers/{server['id']}/failover",
            json={"enabled": True, "max_cameras": limit},
            headers=headers,
            timeout=30,
        )
        if answer.status_code != 200:
            raise DemoError(f"enabling failover on {server.get('name')} failed: {answer.text}")


def _add_cameras(
    url: str, headers: dict[str, str], homes: list[str], args: argparse.Namespace, cam_pw: str
) -> None:
    """Camera i goes to home i mod len(homes): the cameras spread over the nodes."""
    existing = {c["name"] for c in httpx.get(f"{url}/api/v1/cameras", headers=headers).json()}
    priorities = (Priority.HIGH.value, Priority.MEDIUM.value, Priority.LOW.value)
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
            "home_server_id": homes[(index - 1) % len(homes)],
            "priority": priorities[(index - 1) // len(homes) % len(priorities)],
        }
        answer = httpx.post(f"{url}/api/v1/cameras", json=body, headers=headers, timeout=30)
        if answer.status_code != 201:
            raise DemoError(f"adding {name} failed: {answer.text}")
        say(f"  added {name} by ONVIF ({HOST}:{args.onvif_port + index - 1})")


def _start_node(index: int, args: argparse.Namespace, data: Path) -> tuple[Child, str]:
    name = f"node{index}"
    url = f"http://{HOST}:{args.port + index - 1}"
    say(f"starting {name} at {url} ...")
    argv = _camkeep(
        "run", "--data", str(data / name), "--listen", f"{HOST}:{args.port + index - 1}",
        "--name", name,
    )  # fmt: skip
    return Child(name, argv, data / f"{name}.log"), url


def _banner(
    args: argparse.Namespace, urls: list[str], password: str, data: Path, nodes: list[Child]
) -> str:
    url = urls[0]
    last = nodes[-1]
    camkeep = camkeep_on_path()
    lines = [
        "",
        "camkeep demo is running",
        f"  web:        {url}/   (every node serves it; log in as the owner below)",
        f"  API:        {url}/api/v1   (OpenAPI: {url}/docs)",
        f"  nodes:      {', '.join(f'{c.label} {u}' for c, u in zip(nodes, urls, strict=True))}",
        f"  owner:      {args.owner} / {password}",
        f"  try:        CAMKEEP_SERVER={url} CAMKEEP_USER={args.owner}"
        f" CAMKEEP_PASSWORD={password} {camkeep} failover show",
    ]
    if len(nodes) > 1:
        lines += [
            f"  failover:   type 'stop {last.label}' + Enter here (a kill -9 of it): within"
            " seconds its cameras record on the other nodes",
            f"              (watch: {camkeep} failover show, or {camkeep} cameras list);",
            f"              type 'start {last.label}': its cameras go back to it, no gap in"
            f" the timeline ({camkeep} recordings CAMERA)",
        ]
    lines += [
        f"  faults:     curl -X POST http://{HOST}:{args.control_port}/cameras/1/fault"
        ' -d \'{"mode": "offline"}\'',
        f"  data, logs: {data}",
        "  stop:       Ctrl-C (stops the cameras and every node)",
        "",
    ]
    return "\n".join(lines)


def _read_commands(commands: list[str]) -> None:
    with contextlib.suppress(OSError, ValueError):
        for line in sys.stdin:
            commands.append(line.strip())


def _command(
    line: str, nodes: list[Child], children: list[Child], args: argparse.Namespace, data: Path
) -> None:
    """'stop nodeN' (kill -9) or 'start nodeN' typed on the demo's terminal."""
    verb, _, label = line.partition(" ")
    index = next((i for i, n in enumerate(nodes) if n.label == label.strip()), None)
    if verb not in ("stop", "start") or index is None:
        if line:
            names = ", ".join(n.label for n in nodes)
            say(f"commands: stop NODE | start NODE   (nodes: {names})")
        return
    node = nodes[index]
    running = node.process.poll() is None
    if verb == "stop":
        if running:
            node.process.kill()
            node.process.wait()
        say(f"{node.label} killed (kill -9): its cameras move to the other nodes")
    elif running:
        say(f"{node.label} is running")
    else:
        node.stop()
        restarted, _ = _start_node(index + 1, args, data)
        children[children.index(node)] = restarted
        nodes[index] = restarted
        say(f"{node.label} started: its cameras come back to it")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.cameras <= 128:
        print("camkeep: error: --cameras must be 1-128", file=sys.stderr)
        return 2
    if not 1 <= args.nodes <= 8:
        print("camkeep: error: --nodes must be 1-8", file=sys.stderr)
        return 2
    temp = None if args.data else tempfile.TemporaryDirectory(prefix="camkeep-demo-")
    data = args.data or Path(temp.name)  # type: ignore[union-attr]
    data.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    stopper = _stopper
    stopper.install()
    try:
        return _run(args, data, children, stopper)
    except DemoStopped:
        return 0
    except DemoError as error:
        say(f"camkeep demo: {error}", error=True)
        return 1
    finally:
        stopper.cleaning = True
        say("stopping ...", error=True)
        for child in reversed(children):
            child.stop()
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.cleanup()


def _run(args: argparse.Namespace, data: Path, children: list[Child], stopper: Stopper) -> int:
    for i in range(args.nodes):
        _check_free(args.port + i, f"API of node{i + 1}")
    _check_free(args.rtsp_port, "RTSP")
    _check_free(args.control_port, "camera control")
    for i in range(args.cameras):
        _check_free(args.onvif_port + i, "ONVIF")
    camera_password = secrets.token_urlsafe(6)
    say(f"starting {args.cameras} emulated cameras ...")
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
    nodes: list[Child] = []
    urls: list[str] = []
    for index in range(1, args.nodes + 1):
        node, node_url = _start_node(index, args, data)
        children.append(node)
        nodes.append(node)
        urls.append(node_url)
    healths = [_wait_health(u, c) for u, c in zip(urls, nodes, strict=True)]
    url = urls[0]
    password = _setup(url, data, args.owner, healths[0])
    headers = _login(url, args.owner, password)
    _add_nodes(
        url, headers, args.owner, password,
        [(c.label, u) for c, u in zip(nodes[1:], urls[1:], strict=True)],
    )  # fmt: skip
    servers = _wait_servers(url, headers, args.nodes)
    _enable_failover(url, headers, servers)
    by_url = {s["url"]: s["id"] for s in servers}
    homes = [by_url.get(u, h["node_id"]) for u, h in zip(urls, healths, strict=True)]
    _add_cameras(url, headers, homes, args, camera_password)
    say(_banner(args, urls, password, data, nodes))
    commands: list[str] = []
    threading.Thread(target=_read_commands, args=(commands,), daemon=True).start()
    while not stopper.requested.is_set():
        if cameras.process.poll() is not None:
            raise DemoError(f"the emulator exited (see {cameras.log_path})")
        if _reader_gone(sys.stdout.fileno()):
            stopper.output_closed()
            break
        while commands:
            _command(commands.pop(0), nodes, children, args, data)
        stopper.requested.wait(0.3)
    return 0
