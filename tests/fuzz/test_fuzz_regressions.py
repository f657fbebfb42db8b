"""Every fuzz harness over its seed corpus and its crash regression inputs (fast, part
of the suite), the seeds reaching the parsers' accepting paths, and a short atheris
smoke run of each harness in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys

import harnesses
import pytest

NAMES = harnesses.names()
SMOKE_RUNS = 2000


def test_every_harness_has_seeds() -> None:
    assert len(NAMES) >= 15
    for name in NAMES:
        assert (harnesses.CORPUS / name).is_dir() and any((harnesses.CORPUS / name).iterdir()), name


@pytest.mark.parametrize("name", NAMES)
def test_harness_over_seeds_and_crashes(name: str) -> None:
    fuzz_one = harnesses.load(name)
    paths = harnesses.inputs(name)
    assert paths
    for path in paths:
        fuzz_one(path.read_bytes())  # raises on a crash; the input's path is in the traceback


def _seeds(name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((harnesses.CORPUS / name).iterdir())]


def test_seeds_reach_the_accepting_paths() -> None:
    """The seeds are real, valid inputs: fuzzing starts from inside the parsers."""
    import fuzz_gossip
    import fuzz_internode_auth
    import fuzz_session_token
    import fuzz_soap

    from emulator.rtsp_message import RtspRequest, parse_message
    from emulator.soap import parse_request
    from emulator.soap_security import check_username_token
    from node.membership import GossipCodec
    from node.membership._wire import parse_payload
    from node.security._internode import InternodeVerifier
    from recorder._rtp import InterleavedVideoReader, parse_sdp

    for data in _seeds("gossip"):
        codec = GossipCodec(fuzz_gossip.SYSTEM_ID, fuzz_gossip.RECEIVER, fuzz_gossip.SECRET)
        envelope = codec.decode(data, fuzz_gossip.NOW_MS)
        assert parse_payload(envelope.type, envelope.sender, envelope.payload).bad_entries == 0
    for data in _seeds("session_token"):
        fuzz_session_token.SIGNER.verify(data.decode("latin-1"))
    for data in _seeds("internode_auth"):
        method, target, raw, body = fuzz_internode_auth.parse(data)
        verifier = InternodeVerifier(
            fuzz_internode_auth.SYSTEM_ID, fuzz_internode_auth.SECRET, clock_ms=lambda: 0
        )
        from starlette.datastructures import Headers

        verifier.verify(method, target, Headers(raw=raw), body, now_ms=fuzz_internode_auth.NOW_MS)
    digests = 0
    for data in _seeds("soap"):
        request = parse_request(data)
        if request.token is not None:
            check_username_token(
                request.token, fuzz_soap.USERNAME, fuzz_soap.PASSWORD, fuzz_soap.NOW
            )
            digests += request.token.password_type == "digest"
    assert digests >= 2
    for codec in ("h264", "hevc"):
        tracks = parse_sdp(
            (harnesses.CORPUS / "sdp" / f"describe_{codec}.sdp").read_text(), "rtsp://h/"
        )
        assert [t.codec for t in tracks] == [codec] and tracks[0].parameter_sets()
        units = InterleavedVideoReader(codec).feed(_read("rtp_interleaved", f"play_{codec}"))
        assert any(key for _, key, _ in units)
        message, _ = parse_message(_read("rtsp_request", f"session_{codec}"))
        assert isinstance(message, RtspRequest) and message.method == "DESCRIBE"


def _read(name: str, label: str) -> bytes:
    return (harnesses.CORPUS / name / label).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_atheris_smoke(name: str, tmp_path) -> None:
    pytest.importorskip("atheris")
    scratch = tmp_path / "corpus"
    scratch.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(harnesses.HERE / "atheris_main.py"),
            name,
            str(scratch),
            str(harnesses.CORPUS / name),
            f"-runs={SMOKE_RUNS}",
            "-max_total_time=30",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done and int(done[1]) >= SMOKE_RUNS, result.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
