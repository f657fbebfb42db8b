"""Self-test of the namespace harness: reachability, multicast, partition, loss, cleanup."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import netns
import pytest

_PORT = 40000
_GROUP = "239.255.77.77"


def _udp_receiver(address: str, port: int = _PORT) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    sock.settimeout(0.3)
    return sock


def _send(sender: netns.Host, target: str, count: int, port: int = _PORT) -> None:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(count):
                sock.sendto(f"m{i}".encode(), (target, port))
                if i % 50 == 49:
                    time.sleep(0.005)  # stay well under the receive buffer

    sender.call(send)


def _drain(sock: socket.socket) -> int:
    received = 0
    while True:
        try:
            sock.recv(64)
        except TimeoutError:
            return received
        received += 1


def test_hosts_reach_each_other_and_nothing_else(lan) -> None:
    net = lan(2)
    a, b = net.hosts
    assert a.address != b.address
    receiver = b.call(_udp_receiver, b.address)
    with receiver:
        _send(a, b.address, 5)
        assert _drain(receiver) == 5
    routes = a.run(["ip", "route"]).stdout
    assert "default" not in routes  # no way out of the test LAN
    assert a.address in a.run(["ip", "-o", "addr"]).stdout
    assert b.address not in a.run(["ip", "-o", "addr"]).stdout


def test_multicast_crosses_the_bridge(lan) -> None:
    net = lan(3)
    a, b, c = net.hosts

    def member(host: netns.Host) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_GROUP, _PORT))
        mreq = socket.inet_aton(_GROUP) + socket.inet_aton(host.address)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.settimeout(0.5)
        return sock

    def send_multicast() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.address))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", 1))
            sock.sendto(b"hello", (_GROUP, _PORT))

    members = [b.call(member, b), c.call(member, c)]
    try:
        a.call(send_multicast)
        for sock in members:
            data, (source, _) = sock.recvfrom(64)
            assert (data, source) == (b"hello", a.address)
        if netns.nft_unavailable_reason() is None:  # loss rules apply to multicast too
            c.drop_incoming_percent(100, from_host=a)
            a.call(send_multicast)
            assert members[0].recv(64) == b"hello"
            with pytest.raises(TimeoutError):
                members[1].recv(64)
    finally:
        for sock in members:
            sock.close()


def test_popen_runs_inside_the_host_and_kill9(lan) -> None:
    net = lan(2)
    a, b = net.hosts
    script = (
        "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
        f"s.bind(('{b.address}',{_PORT}));print('ready',flush=True);"
        "d,p=s.recvfrom(64);s.sendto(d.upper(),p);import time;time.sleep(60)"
    )
    proc = b.popen([sys.executable, "-c", script], log_name="echo")
    netns.wait_until(lambda: "ready" in b.log(proc), 10, what="echo server")

    def ask() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(b"ping", (b.address, _PORT))
            return sock.recv(64)

    assert a.call(ask) == b"PING"
    b.kill9(proc)
    assert proc.returncode == -9


def test_disconnect_partitions_and_reconnect_heals(lan) -> None:
    net = lan(2)
    a, b = net.hosts
    receiver = b.call(_udp_receiver, b.address)
    with receiver:
        b.disconnect()
        _send(a, b.address, 10)
        assert _drain(receiver) == 0
        b.reconnect()
        # the bridge port needs a moment to forward again
        netns.wait_until(lambda: (_send(a, b.address, 1), _drain(receiver))[1] > 0, 10,
                         what="link back up")  # fmt: skip


def test_split_and_heal(lan, nft_available) -> None:
    net = lan(3)
    a, b, c = net.hosts
    receiver_b = b.call(_udp_receiver, b.address)
    receiver_c = c.call(_udp_receiver, c.address)
    with receiver_b, receiver_c:
        net.split([a, b], [c])
        _send(a, b.address, 5)
        _send(a, c.address, 5)
        assert (_drain(receiver_b), _drain(receiver_c)) == (5, 0)
        net.heal()
        _send(a, c.address, 5)
        assert _drain(receiver_c) == 5


def test_nft_random_loss_drops_about_the_given_fraction(lan, nft_available) -> None:
    net = lan(2)
    a, b = net.hosts
    receiver = b.call(_udp_receiver, b.address)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    with receiver:
        rule = b.drop_incoming_percent(20, from_host=a)
        _send(a, b.address, 500)
        delivered = _drain(receiver) / 500
        # 20 % loss: mean 0.80, sd 0.018; the bounds are > 4 sd away
        assert 0.72 <= delivered <= 0.88, delivered
        b.remove_rule(rule)
        _send(a, b.address, 100)
        assert _drain(receiver) == 100


def test_everything_is_removed_on_close() -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with netns.lan(2) as net:
        names = net.namespaces()
        proc = net.hosts[0].popen(["sleep", "60"])
        workdir = net.workdir
        assert set(names) <= set(netns._netns_names())
    assert not set(names) & set(netns._netns_names())
    assert proc.poll() is not None
    assert not workdir.exists()


def test_cleanup_after_an_exception_and_a_stray_process() -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with pytest.raises(RuntimeError), netns.lan(1) as net:
        host = net.hosts[0]
        names = net.namespaces()
        # a grandchild that the harness did not start itself
        host.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 &"])
        stray = netns._netns_pids(host.netns)
        assert stray
        raise RuntimeError("test failed")
    assert not set(names) & set(netns._netns_names())
    for pid in stray:
        assert not netns._pid_alive(pid) or _is_zombie(pid)


def test_sigterm_of_the_test_process_removes_its_namespaces(tmp_path) -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(netns.__file__.rsplit('/', 1)[0])!r})\n"
        "import netns\n"
        "with netns.lan(2) as net:\n"
        "    print(' '.join(net.namespaces()), flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        names = child.stdout.readline().split()
        assert len(names) == 3
        assert set(names) <= set(netns._netns_names())
        child.terminate()
        child.wait(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert not set(names) & set(netns._netns_names())


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_http_between_hosts_through_pinned_threads(lan) -> None:
    net = lan(2)
    a, b = net.hosts
    root = b.data_dir("www")
    (root / "hello.txt").write_text("hi from b")
    server = b.popen(
        [sys.executable, "-m", "http.server", "--bind", b.address, "--directory", str(root),
         "8080"],
        log_name="http",
    )  # fmt: skip
    b.wait_tcp(b.address, 8080, timeout_s=15)
    reply = a.wait_http(f"http://{b.address}:8080/hello.txt", timeout_s=15)
    assert (reply.status_code, reply.text) == (200, "hi from b")
    # a's loopback is its own: nothing listens on a's 127.0.0.1:8080
    assert a.call(_connect_refused, "127.0.0.1", 8080)
    b.kill9(server)
    assert a.call(_connect_refused, b.address, 8080)


def _connect_refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_camkeep_node_runs_in_each_host(lan) -> None:
    """How a multi-host node test starts: one `camkeep run` per host on its own address."""
    net = lan(2)
    nodes = {
        h.name: h.camkeep(
            ["run", "--listen", f"{h.address}:7480", "--data", str(h.data_dir()), "--name", h.name],
            log_name="node",
        )
        for h in net.hosts
    }
    a, b = net.hosts
    health = b.wait_http(f"http://{a.address}:7480/api/v1/health", timeout_s=60).json()
    assert (health["name"], health["state"]) == ("h1", "undefined")
    a.kill9(nodes["h1"])
    assert b.call(_connect_refused, a.address, 7480)


def test_namespaces_of_a_sigkilled_run_are_swept_by_the_next(tmp_path) -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(netns.__file__.rsplit('/', 1)[0])!r})\n"
        "import netns\n"
        "cm = netns.lan(1)\n"
        "net = cm.__enter__()  # never exited: the process is SIGKILLed\n"
        "net.hosts[0].popen(['sleep', '120'])\n"
        "print(' '.join(net.namespaces()), net.workdir, flush=True)\n"
        "time.sleep(120)\n"
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        *names, workdir = child.stdout.readline().split()
        host_ns = names[1]
        netns.wait_until(lambda: netns._netns_pids(host_ns), 10, what="sleep in the host")
        orphans = netns._netns_pids(host_ns)
    finally:
        child.kill()  # no cleanup can run: the namespaces and the sleep stay behind
        child.wait()
        child.stdout.close()
    assert set(names) <= set(netns._netns_names())
    removed = netns.sweep_stale_namespaces()
    assert set(names) <= set(removed)
    assert not set(names) & set(netns._netns_names())
    assert not Path(workdir).exists()
    for pid in orphans:
        assert not netns._pid_alive(pid) or _is_zombie(pid)
