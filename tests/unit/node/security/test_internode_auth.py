"""node/internode_auth.py: signing and verification of node-to-node HTTP calls (pure)."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.security import PURPOSE_GOSSIP, PURPOSE_INTERNODE, derive_key
from node.security._internode import (
    HEADER_NODE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_SYSTEM,
    HEADER_TIME,
    HEADERS,
    InternodeAuth,
    InternodeAuthError,
    InternodeVerifier,
    NonceCache,
    sign_request,
)

SECRET = b"system secret for tests, 32 byte"
SYSTEM = "sys-1"
NOW = 1_700_000_000_000
TARGET = "/api/v1/internal/records?since=12&kind=camera"
BODY = b'{"records": []}'


def signed(**overrides: object) -> dict[str, str]:
    args: dict[str, object] = {
        "system_secret": SECRET,
        "system_id": SYSTEM,
        "node_id": "node-a",
        "method": "POST",
        "target": TARGET,
        "body": BODY,
        "now_ms": NOW,
    }
    args.update(overrides)
    return sign_request(**args)  # type: ignore[arg-type]


def verifier(**kwargs: object) -> InternodeVerifier:
    return InternodeVerifier(SYSTEM, SECRET, clock_ms=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def reason_of(v: InternodeVerifier, headers: dict[str, str], **kwargs: object) -> str:
    args: dict[str, object] = {"method": "POST", "target": TARGET, "body": BODY}
    args.update(kwargs)
    with pytest.raises(InternodeAuthError) as info:
        v.verify(args["method"], args["target"], headers, args["body"])  # type: ignore[arg-type]
    return info.value.reason


def test_a_signed_request_verifies_and_names_its_caller() -> None:
    headers = signed()
    assert set(headers) == set(HEADERS)
    assert verifier().verify("POST", TARGET, headers, BODY) == "node-a"


def test_header_names_are_case_insensitive_on_lookup() -> None:
    headers = {k.lower(): v for k, v in signed().items()}
    assert verifier().verify("post", TARGET, headers, BODY) == "node-a"


def test_key_differs_from_the_gossip_key_and_from_the_secret() -> None:
    key = derive_key(SECRET, PURPOSE_INTERNODE)
    assert key != derive_key(SECRET, PURPOSE_GOSSIP) and key != SECRET
    assert len(key) == 32
    with pytest.raises(ValueError):
        derive_key(b"", PURPOSE_INTERNODE)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"method": "PUT"}, "bad_signature"),
        ({"target": "/api/v1/internal/records?since=13&kind=camera"}, "bad_signature"),
        ({"target": "/api/v1/internal/records"}, "bad_signature"),
        ({"body": BODY + b" "}, "bad_signature"),
        ({"body": b""}, "bad_signature"),
    ],
)
def test_any_change_to_the_request_breaks_the_signature(
    change: dict[str, object], expected: str
) -> None:
    assert reason_of(verifier(), signed(), **change) == expected


def test_tampered_headers_are_refused() -> None:
    v = verifier()
    for name, value in (
        (HEADER_NODE, "node-b"),
        (HEADER_TIME, str(NOW + 1)),
        (HEADER_NONCE, "0" * 32),
    ):
        headers = signed() | {name: value}
        assert reason_of(v, headers) == "bad_signature", name


def test_wrong_secret_and_wrong_system() -> None:
    assert reason_of(verifier(), signed(system_secret=b"another secret")) == "bad_signature"
    assert reason_of(verifier(), signed(system_id="sys-2")) == "wrong_system"
    # no expected system given: the signature still binds the system header
    loose = InternodeVerifier(None, SECRET, clock_ms=lambda: NOW)
    assert reason_of(loose, signed() | {HEADER_SYSTEM: "sys-2"}) == "bad_signature"


def test_time_window_is_30_s_either_way() -> None:
    v = verifier()
    assert v.verify("POST", TARGET, signed(now_ms=NOW - 30_000), BODY) == "node-a"
    assert v.verify("POST", TARGET, signed(now_ms=NOW + 30_000), BODY) == "node-a"
    assert reason_of(v, signed(now_ms=NOW - 30_001)) == "stale"
    assert reason_of(v, signed(now_ms=NOW + 30_001)) == "future"


def test_replayed_nonce_is_refused_but_a_new_one_passes() -> None:
    v = verifier()
    headers = signed()
    assert v.verify("POST", TARGET, headers, BODY) == "node-a"
    assert reason_of(v, headers) == "replayed"
    assert v.verify("POST", TARGET, signed(), BODY) == "node-a"  # fresh nonce


def test_refused_requests_leave_the_nonce_cache_alone() -> None:
    v = verifier()
    good = signed()
    forged = good | {HEADER_SIGNATURE: "0" * 64}
    assert reason_of(v, forged) == "bad_signature"
    assert len(v.nonces) == 0
    assert v.verify("POST", TARGET, good, BODY) == "node-a"  # its nonce was not burnt


@pytest.mark.parametrize("missing", HEADERS)
def test_missing_header(missing: str) -> None:
    headers = signed()
    del headers[missing]
    assert reason_of(verifier(), headers) == "missing_header"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (HEADER_NODE, "bad node\n"),
        (HEADER_NODE, ""),
        (HEADER_SYSTEM, "x" * 65),
        (HEADER_TIME, "-5"),
        (HEADER_TIME, "1e12"),
        (HEADER_TIME, "9" * 40),
        (HEADER_NONCE, "short"),
        (HEADER_NONCE, "G" * 32),
        (HEADER_SIGNATURE, "abc"),
        (HEADER_SIGNATURE, "Z" * 64),
    ],
)
def test_malformed_headers(name: str, value: str) -> None:
    assert reason_of(verifier(), signed() | {name: value}) == "bad_header"


def test_bad_request_target() -> None:
    assert reason_of(verifier(), signed(), target="/a b\n") == "bad_header"


def test_no_secret_means_not_in_system() -> None:
    v = InternodeVerifier(None, None, clock_ms=lambda: NOW)
    assert reason_of(v, signed()) == "not_in_system"


def test_secret_given_per_call_overrides() -> None:
    v = InternodeVerifier(clock_ms=lambda: NOW)
    other = b"another system's secret"
    headers = signed(system_secret=other, system_id="sys-2")
    assert v.verify("POST", TARGET, headers, BODY, system_id="sys-2", system_secret=other)
    with pytest.raises(InternodeAuthError) as info:
        v.verify("POST", TARGET, signed(), BODY, system_id="sys-2", system_secret=other)
    assert info.value.reason == "wrong_system"


def test_signature_is_hmac_of_the_documented_canonical_form() -> None:
    """Other implementations can interoperate from the docstring alone."""
    nonce = "0123456789abcdef0123456789abcdef"
    headers = signed(nonce=nonce)
    canonical = "\n".join(
        [
            "CKH1",
            "POST",
            TARGET,
            SYSTEM,
            "node-a",
            str(NOW),
            nonce,
            hashlib.sha256(BODY).hexdigest(),
        ]
    ).encode()
    key = hmac.new(SECRET, b"camkeep internode http v1\x01", hashlib.sha256).digest()
    assert headers[HEADER_SIGNATURE] == hmac.new(key, canonical, hashlib.sha256).hexdigest()


def test_signer_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        signed(node_id="bad id")
    with pytest.raises(ValueError):
        signed(target="no-leading-slash")
    with pytest.raises(ValueError):
        signed(nonce="reused")


def test_nonce_cache_is_bounded_and_evicted_nonces_stay_refused() -> None:
    cache = NonceCache(max_nonces=3)
    window = 30_000
    for i in range(3):
        cache.add(f"{i:032x}", NOW + i, NOW, window)
    cache.add(f"{3:032x}", NOW + 3, NOW, window)  # evicts the oldest (NOW + 0)
    assert len(cache) == 3
    assert cache.seen(f"{0:032x}", NOW)  # evicted, but below the floor: still refused
    assert cache.seen(f"{3:032x}", NOW + 3)
    assert not cache.seen(f"{9:032x}", NOW + 5)


def test_nonce_cache_forgets_what_the_window_already_refuses() -> None:
    cache = NonceCache()
    cache.add("a" * 32, NOW, NOW, 30_000)
    cache.add("b" * 32, NOW + 40_000, NOW + 40_000, 30_000)  # "a" is now older than the window
    assert len(cache) == 1


def test_replay_after_eviction_through_the_verifier() -> None:
    v = verifier(max_nonces=2)
    first = signed(now_ms=NOW - 10)
    v.verify("POST", TARGET, first, BODY)
    v.verify("POST", TARGET, signed(now_ms=NOW - 5), BODY)
    v.verify("POST", TARGET, signed(now_ms=NOW), BODY)  # evicts `first`
    assert reason_of(v, first) == "replayed"


def test_httpx_auth_signs_what_is_actually_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        target = request.url.raw_path.decode()
        node = verifier_live.verify(request.method, target, request.headers, request.content)
        return httpx.Response(200, json={"caller": node})

    verifier_live = InternodeVerifier(SYSTEM, SECRET)
    auth = InternodeAuth(lambda: (SYSTEM, "node-a", SECRET))
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        reply = client.post("http://peer:7480/api/v1/x y?q=a b&r=é", json={"k": [1, 2]})
    assert reply.json() == {"caller": "node-a"}
    assert seen[0].headers[HEADER_NODE] == "node-a"


def test_httpx_auth_without_credentials_sends_unsigned() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"signed": HEADER_SIGNATURE.lower() in request.headers})

    auth = InternodeAuth(lambda: None)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("http://peer/x").json() == {"signed": False}


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from([*HEADERS, "X-Other"]), st.text(max_size=80), max_size=6
    ),
    target=st.text(max_size=40),
    body=st.binary(max_size=64),
)
def test_arbitrary_headers_only_ever_raise_internode_auth_error(
    headers: dict[str, str], target: str, body: bytes
) -> None:
    v = verifier()
    with pytest.raises(InternodeAuthError):
        v.verify("POST", target, headers, body)
    assert len(v.nonces) == 0


def test_headers_can_be_checked_before_the_body_is_read() -> None:
    v = verifier()
    headers = signed()
    parsed = v.check_headers(TARGET, headers)
    assert (parsed.node_id, parsed.time_ms) == ("node-a", NOW)
    assert len(v.nonces) == 0  # nothing remembered before the signature checks out
    assert v.check_signature(parsed, "POST", TARGET, BODY) == "node-a"
    with pytest.raises(InternodeAuthError) as info:
        v.check_signature(parsed, "POST", TARGET, BODY)
    assert info.value.reason == "replayed"
