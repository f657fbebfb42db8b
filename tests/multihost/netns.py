"""A private LAN of test hosts made of Linux network namespaces.

    with lan(3) as net:                      # or the `lan` pytest fixture
        a, b, c = net.hosts
        proc = a.popen([sys.executable, "-m", "node.cli", "run", "--listen", f"{a.address}:7480"])
        b.disconnect(); b.reconnect()        # pull / plug b's cable at the switch
        c.drop_incoming_percent(20, from_host=a)
        a.kill9(proc)
        reply = b.call(httpx.get, f"http://{a.address}:7480/api/v1/health")  # runs inside b

Topology: one "switch" namespace holding a Linux bridge, and one namespace per host,
each joined to the bridge by a veth pair (``eth0`` inside the host, ``p<i>`` in the
switch). Nothing is created in the root namespace: no packet of a test host can
reach the machine's real interfaces (tests never send on the outward interface).
Every namespace, process and
thread made here is removed on close, on test failure, on SIGTERM/SIGHUP and at exit;
namespaces left by a run that was killed with SIGKILL are swept by the next run.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from node.cli import start_process

T = TypeVar("T")

NETNS_PREFIX = "ckt-"  # every namespace this harness makes: ckt-<pid>-<lan>-<role>
_NAME_RE = re.compile(r"^ckt-(\d+)-\d+-(?:sw|h\d+)$")
_CLONE_NEWNET = 0x40000000
_WORKDIR_PREFIX = "camkeep-lan-"  # + <pid>-<lan>-<random>, in the temp folder
_WORKDIR_RE = re.compile(r"^camkeep-lan-(\d+)-\d+-")
_NFT_TABLE = "camkeep_test"
_COMMAND_TIMEOUT_S = 10.0
_KILL_WAIT_S = 5.0

_lan_counter = itertools.count(1)
_live_lans: set[Lan] = set()
_live_lock = threading.Lock()
_hooks_installed = False


class NetnsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no `ip netns`, no veth/bridge)."""


class NetnsError(RuntimeError):
    """An `ip`/`nft` command failed."""


def unavailable_reason() -> str | None:
    """None when namespaces can be made, else why not (for pytest.skip)."""
    if os.geteuid() != 0:
        return "multi-host tests need root to create network namespaces"
    if shutil.which("ip") is None:
        return "multi-host tests need iproute2 (`ip netns`)"
    probe = f"{NETNS_PREFIX}{os.getpid()}-0-sw"
    try:
        _ip("netns", "add", probe)
    except NetnsError as exc:
        return f"`ip netns add` does not work here: {exc}"
    try:
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        _ip("-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    except NetnsError as exc:
        return f"bridge/veth cannot be made in a namespace: {exc}"
    finally:
        with contextlib.suppress(NetnsError):
            _ip("netns", "del", probe)
    return None


def nft_unavailable_reason() -> str | None:
    if shutil.which("nft") is None:
        return "packet-loss tests need nftables (`nft`)"
    return None


# --------------------------------------------------------------------------- commands


def _run(argv: Sequence[str], *, input_text: str | None = None) -> str:
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _ip(*args: str) -> str:
    return _run(["ip", *args])


def _netns_names() -> list[str]:
    return [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]


def _netns_pids(netns: str) -> list[int]:
    try:
        out = _ip("netns", "pids", netns)
    except NetnsError:
        return []
    return [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]


def _kill_all_in(netns: str) -> None:
    """SIGKILL every process whose network namespace is `netns` and wait for them."""
    deadline = time.monotonic() + _KILL_WAIT_S
    while True:
        pids = _netns_pids(netns)
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _delete_netns(netns: str) -> None:
    _kill_all_in(netns)
    with contextlib.suppress(NetnsError):
        _ip("netns", "del", netns)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_namespaces() -> list[str]:
    """Delete namespaces (and work folders) of earlier runs whose creating process is
    gone (SIGKILLed): their leftover processes are killed first."""
    removed = []
    for name in _netns_names():
        match = _NAME_RE.match(name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            _delete_netns(name)
            removed.append(name)
    for path in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        match = _WORKDIR_RE.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
    return removed


def _setns_current_thread(netns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError(f"setns({netns}): {os.strerror(err)}")
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- hosts


@dataclass(eq=False)
class Host:
    """One test host: a namespace with `eth0` on the LAN and `lo`."""

    lan: Lan
    index: int  # 1-based
    netns: str
    address: str
    port_name: str  # the veth end in the switch namespace
    interface: str = "eth0"
    _procs: list[subprocess.Popen] = field(default_factory=list)
    _executor: concurrent.futures.ThreadPoolExecutor | None = None
    _rule_seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _rule_handles: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"h{self.index}"

    def __repr__(self) -> str:
        return f"Host({self.name}, {self.address}, netns={self.netns})"

    # ---- processes

    def popen(
        self, argv: Sequence[str], *, log_name: str | None = None, **kwargs: Any
    ) -> subprocess.Popen:
        """Start `argv` inside this host. stdout+stderr go to a log file unless given;
        `proc.log_path` names it and `host.log(proc)` reads it. The process is
        SIGKILLed at the latest when the LAN closes, and gets SIGTERM if the process
        that started it dies first."""
        stem = f"{self.name}-{log_name or len(self._procs) + 1}"
        log_path = self.lan.workdir / f"{stem}.log"
        for attempt in itertools.count(2):  # a restarted process gets a log of its own
            if not log_path.exists():
                break
            log_path = self.lan.workdir / f"{stem}-{attempt}.log"
        log_file = None
        if "stdout" not in kwargs:
            log_file = open(log_path, "wb")  # noqa: SIM115 - closed below, child keeps its copy
            kwargs["stdout"] = log_file
            kwargs.setdefault("stderr", subprocess.STDOUT)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        try:
            # dies with this process (parent-death signal) if it ends without closing us
            proc = start_process(["ip", "netns", "exec", self.netns, *argv], **kwargs)
        finally:
            if log_file is not None:
                log_file.close()
        proc.log_path = log_path  # type: ignore[attr-defined]
        self._procs.append(proc)
        return proc

    def run(self, argv: Sequence[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run `argv` inside this host to completion (output captured as text)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def camkeep(
        self, args: Sequence[str], *, log_name: str | None = None, **kwargs: Any
    ) -> subprocess.Popen:
        """Run `camkeep <args>` (e.g. ["run", "--listen", f"{host.address}:7480",
        "--data", str(host.data_dir())]) inside this host, from the LAN's workdir."""
        import sys

        kwargs.setdefault("cwd", self.lan.workdir)
        return self.popen([sys.executable, "-m", "node.cli", *args], log_name=log_name, **kwargs)

    def data_dir(self, name: str = "data") -> Path:
        """A fresh folder for this host (removed with the LAN)."""
        path = self.lan.workdir / self.name / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def log(proc: subprocess.Popen) -> str:
        path = getattr(proc, "log_path", None)
        if path is None or not Path(path).exists():
            return ""
        return Path(path).read_text(errors="replace")

    def kill9(self, proc: subprocess.Popen) -> None:
        """`kill -9` one process started with popen (a node crash)."""
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=_KILL_WAIT_S)

    def terminate(self, proc: subprocess.Popen, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9(proc)
            return proc.wait()

    def processes(self) -> list[subprocess.Popen]:
        return list(self._procs)

    # ---- code of the test process, run inside this host

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(*args) in a thread that lives in this host's namespace: sockets
        it makes (httpx clients, UDP probes...) are this host's sockets."""
        return self._pinned_executor().submit(fn, *args, **kwargs).result()

    async def acall(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        import asyncio
        import functools

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pinned_executor(), functools.partial(fn, *args, **kwargs)
        )

    def http(self, method: str, url: str, **kwargs: Any) -> Any:
        """One HTTP request made from this host (httpx; returns httpx.Response).
        The test process must never connect to a LAN address from the root
        namespace: that would go out of the machine's default route."""
        import httpx

        kwargs.setdefault("timeout", 5.0)
        return self.call(httpx.request, method, url, **kwargs)

    def wait_http(self, url: str, timeout_s: float = 30.0) -> Any:
        """Poll `url` from this host until it answers (any status); returns the response."""
        import httpx

        def attempt() -> Any:
            try:
                return self.http("GET", url, timeout=2.0)
            except httpx.HTTPError:
                return None

        return wait_until(attempt, timeout_s, interval_s=0.2, what=f"{url} from {self.name}")

    def wait_tcp(self, address: str, port: int, timeout_s: float = 30.0) -> None:
        """Wait until a TCP connect from this host to address:port succeeds."""
        import socket

        def attempt() -> bool:
            try:
                socket.create_connection((address, port), timeout=1.0).close()
            except OSError:
                return False
            return True

        wait_until(lambda: self.call(attempt), timeout_s, interval_s=0.2, what=f"{address}:{port}")

    def _pinned_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=4,
                thread_name_prefix=f"netns-{self.name}",
                initializer=_setns_current_thread,
                initargs=(self.netns,),
            )
        return self._executor

    # ---- link state

    def disconnect(self) -> None:
        """Pull the cable at the switch: the host keeps its address and routes but no
        frame reaches or leaves it (the peer end goes NO-CARRIER)."""
        _ip("-n", self.lan.switch_netns, "link", "set", self.port_name, "down")

    def reconnect(self) -> None:
        _ip("-n", self.lan.switch_netns, "link", "set", self.port_name, "up")

    def link_down(self) -> None:
        """Take the host's own eth0 down (its sockets see ENETUNREACH / no route)."""
        _ip("-n", self.netns, "link", "set", self.interface, "down")

    def link_up(self) -> None:
        _ip("-n", self.netns, "link", "set", self.interface, "up")
        self._add_multicast_route()

    def _add_multicast_route(self) -> None:
        with contextlib.suppress(NetnsError):  # already there
            _ip("-n", self.netns, "route", "replace", "224.0.0.0/4", "dev", self.interface)

    # ---- packet loss (nftables inside this host; the kernel has no netem)

    def drop_incoming_percent(self, percent: int, *, from_host: Host | None = None) -> str:
        """Drop `percent` % of packets arriving at this host (from one host or all).
        Returns a rule id for remove_rule()."""
        match = f"ip saddr {from_host.address} " if from_host else ""
        return self._add_rule("input", f"{match}{_loss_expr(percent)}")

    def drop_outgoing_percent(self, percent: int, *, to_host: Host | None = None) -> str:
        match = f"ip daddr {to_host.address} " if to_host else ""
        return self._add_rule("output", f"{match}{_loss_expr(percent)}")

    def block(self, other: Host) -> None:
        """Drop everything between this host and `other`, both ways, seen from here."""
        self.drop_incoming_percent(100, from_host=other)
        self.drop_outgoing_percent(100, to_host=other)

    def remove_rule(self, rule_id: str) -> None:
        if rule_id not in self._rule_handles:
            raise ValueError(f"{self.name} has no rule {rule_id!r}")
        chain, handle = self._rule_handles.pop(rule_id)
        nft = ["ip", "netns", "exec", self.netns, "nft"]
        _run([*nft, "delete", "rule", "inet", _NFT_TABLE, chain, "handle", handle])

    def clear_rules(self) -> None:
        """Remove every nftables rule this harness added in this host."""
        with contextlib.suppress(NetnsError):
            _run(["ip", "netns", "exec", self.netns, "nft", "delete", "table", "inet", _NFT_TABLE])
        self._rule_handles.clear()

    def _add_rule(self, chain: str, rule: str) -> str:
        script = (
            f"table inet {_NFT_TABLE} {{\n"
            f"  chain input {{ type filter hook input priority 0; policy accept; }}\n"
            f"  chain output {{ type filter hook output priority 0; policy accept; }}\n"
            f"}}\n"
        )
        nft = ["ip", "netns", "exec", self.netns, "nft"]
        _run([*nft, "-f", "-"], input_text=script)
        rule_id = f"r{next(self._rule_seq)}"
        out = _run([*nft, "--echo", "--handle", "add", "rule", "inet", _NFT_TABLE, chain, rule])
        handle = re.search(r"# handle (\d+)", out)
        if handle is None:
            raise NetnsError(f"nft did not report a handle: {out!r}")
        self._rule_handles[rule_id] = (chain, handle.group(1))
        return rule_id

    # ---- teardown

    def _close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_KILL_WAIT_S)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _loss_expr(percent: int) -> str:
    if not 0 < percent <= 100:
        raise ValueError(f"loss percent must be in 1..100, got {percent}")
    if percent == 100:
        return "drop"
    return f"numgen random mod 100 < {percent} drop"


# --------------------------------------------------------------------------- the LAN


class Lan:
    """A bridge in its own namespace and `n_hosts` host namespaces on it."""

    def __init__(self, n_hosts: int, *, subnet_octet: int | None = None) -> None:
        if not 1 <= n_hosts <= 200:
            raise ValueError(f"n_hosts must be in 1..200, got {n_hosts}")
        self.id = next(_lan_counter)
        octet = subnet_octet if subnet_octet is not None else random.randrange(1, 255)
        self.subnet = f"10.213.{octet}.0/24"
        self._base = f"10.213.{octet}."
        self.switch_netns = f"{NETNS_PREFIX}{os.getpid()}-{self.id}-sw"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-{self.id}-"))
        self.hosts: list[Host] = []
        self._closed = False
        self._n_hosts = n_hosts

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self) -> Lan:
        _install_cleanup_hooks()
        with _live_lock:
            _live_lans.add(self)
        try:
            _ip("netns", "add", self.switch_netns)
            self._setup_switch()
            for index in range(1, self._n_hosts + 1):
                self._add_host(index)
        except BaseException:
            self.close()
            raise
        return self

    def _setup_switch(self) -> None:
        sw = self.switch_netns
        _sysctl(sw, "net.ipv6.conf.all.disable_ipv6", "1")
        _sysctl(sw, "net.ipv6.conf.default.disable_ipv6", "1")
        # no IGMP snooping: multicast (mDNS, WS-Discovery) is flooded to every port
        _ip("-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", sw, "link", "set", "br0", "up")

    def _add_host(self, index: int) -> Host:
        netns = f"{NETNS_PREFIX}{os.getpid()}-{self.id}-h{index}"
        host = Host(
            lan=self, index=index, netns=netns, address=f"{self._base}{index + 10}",
            port_name=f"p{index}",
        )  # fmt: skip
        _ip("netns", "add", netns)
        self.hosts.append(host)  # so close() removes it even if the rest fails
        _sysctl(netns, "net.ipv6.conf.all.disable_ipv6", "1")
        _sysctl(netns, "net.ipv6.conf.default.disable_ipv6", "1")
        _ip(
            "link", "add", "eth0", "netns", netns, "type", "veth",
            "peer", "name", host.port_name, "netns", self.switch_netns,
        )  # fmt: skip
        sw = self.switch_netns
        _ip("-n", sw, "link", "set", host.port_name, "master", "br0")
        _ip("-n", sw, "link", "set", host.port_name, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "link", "set", "eth0", "multicast", "on")
        _ip("-n", netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        host._add_multicast_route()
        return host

    def host(self, name_or_index: str | int) -> Host:
        if isinstance(name_or_index, int):
            return self.hosts[name_or_index - 1]
        return next(h for h in self.hosts if h.name == name_or_index)

    def split(self, *groups: Sequence[Host]) -> None:
        """Partition the LAN into groups that cannot reach each other (nftables drops
        in every host; links stay up, so each side keeps working). heal() undoes it."""
        for group in groups:
            for host in group:
                for other_group in groups:
                    if other_group is group:
                        continue
                    for other in other_group:
                        host.drop_incoming_percent(100, from_host=other)

    def heal(self) -> None:
        """Undo split(), block(), loss rules, disconnect() and link_down() everywhere."""
        for host in self.hosts:
            host.clear_rules()
            with contextlib.suppress(NetnsError):
                host.reconnect()
                host.link_up()

    def namespaces(self) -> list[str]:
        return [self.switch_netns, *(h.netns for h in self.hosts)]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for host in self.hosts:
            host._close()
        for host in self.hosts:
            _delete_netns(host.netns)
        _delete_netns(self.switch_netns)
        shutil.rmtree(self.workdir, ignore_errors=True)
        with _live_lock:
            _live_lans.discard(self)


def _sysctl(netns: str, key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    with contextlib.suppress(NetnsError):  # ipv6 may be absent: harmless
        _run(["ip", "netns", "exec", netns, "sh", "-c", f"echo {value} > {path}"])


@contextlib.contextmanager
def lan(n_hosts: int, *, subnet_octet: int | None = None) -> Iterator[Lan]:
    """A LAN of `n_hosts` hosts, removed on exit (also on error)."""
    reason = unavailable_reason()
    if reason:
        raise NetnsUnavailable(reason)
    sweep_stale_namespaces()
    net = Lan(n_hosts, subnet_octet=subnet_octet).create()
    try:
        yield net
    finally:
        net.close()


def close_all() -> None:
    with _live_lock:
        lans = list(_live_lans)
    for net in lans:
        net.close()


def _install_cleanup_hooks() -> None:
    """atexit + SIGTERM/SIGHUP: close every live LAN, then die of the signal as before."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(signum)

        def handler(sig: int, frame: object, previous: Any = previous) -> None:
            close_all()
            if callable(previous):
                previous(sig, frame)
            else:
                signal.signal(sig, signal.SIG_DFL)
                os.kill(os.getpid(), sig)

        signal.signal(signum, handler)


def wait_until(
    predicate: Callable[[], T], timeout_s: float, *, interval_s: float = 0.1, what: str = ""
) -> T:
    """Poll `predicate` until it returns a truthy value; AssertionError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        time.sleep(interval_s)
