"""The shared primitives: strict base64url, MACs, and the key derivations pinned to
vectors made by the code before the primitives were shared, so tokens, signatures and
datagrams issued by earlier versions stay valid."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.membership import GossipCodec
from node.security import (
    PURPOSE_GOSSIP,
    PURPOSE_INTERNODE,
    AuthError,
    Base64Error,
    ConfirmError,
    JoinTokenError,
    TokenSigner,
    b64url_decode,
    b64url_encode,
    check_confirm_token,
    derive_key,
    mac,
    same_mac,
    sign_request,
    verify_join_token,
)
from node.security._crypto import (
    PURPOSE_DETACH_CONFIRM,
    PURPOSE_JOIN_TOKEN,
    PURPOSE_LOGIN_TOKEN,
    derive_token_key,
    mac_b64,
    seal_token,
    token_body,
)

SECRET = bytes(range(32))

# ------------------------------------------------------- vectors made before the change

# Recorded with the per-module code these helpers replaced (HMAC(secret, info || 1) in
# the internode and gossip modules, SHA256(label || 0 || secret) in the token modules).
INTERNODE_KEY = "c32f462b63883b0b10742da5273a2b212874206b43a4e3fdb5785e6f785c7e21"
GOSSIP_KEY = "588d36583ff3ef17da3126801e674c572d41cf6219d71ed68bcfb31371d02c26"
LOGIN_TOKEN_KEY = "f4725d52d208fca510d032841f8fc782059fce84aae7e23ae52cf485c4422d61"
LOGIN_TOKEN = (
    "ck1.eyJ1IjoiYWxpY2UiLCJzIjoic3lzLTEiLCJpYXQiOjE3MDAwMDAwMDAuMCwiZXhwIjoxNzAwMDAzNjAwLjAs"
    "Im4iOiIwMDExMjIzMzQ0NTU2Njc3In0.5jy89QDaDlgSKuxBPBzMCHzlRzn-rC2KEjDH94dWw1o"
)
JOIN_TOKEN = (
    "ckj1.eyJzIjoic3lzLTEiLCJleHAiOjE3MDAwMDM2MDAuMCwibiI6IjAwMTEyMjMzNDQ1NTY2NzcifQ"
    ".T72JrUq88zpnX4TdDsHsy4cMzoVqypUq4KcymnZyzmA"
)
CONFIRM_TOKEN = (
    "ckd1.eyJzIjoic3J2LWIiLCJrIjp0cnVlLCJuYiI6MTcwMDAwMDAwNS4wLCJleHAiOjE3MDAwMDAxMjUuMH0"
    ".BnX4Hr9QjSNaHENq1EvsrfyK69yG-DEyldA_xwLVtks"
)
INTERNODE_SIGNATURE = "4f98a833833dc874eafd300f51e613da1092a430f4c854aff3946aa3b8078a1e"
GOSSIP_DATAGRAM = bytes.fromhex(
    "434b4731d20f7774db04d1d56913e9e09a49400ca7c958a91378e5a9993a4d91af35a30a7b2276223a312c"
    "22737973223a227379732d31222c2266726f6d223a226e6f64652d61222c22626f6f74223a372c22696e"
    "63223a322c2274797065223a2270696e67222c22736571223a302c227473223a31373030303030303030"
    "3030302c2270223a7b2278223a317d7d"
)


def test_hmac_derivations_keep_their_bytes() -> None:
    assert derive_key(SECRET, PURPOSE_INTERNODE).hex() == INTERNODE_KEY
    assert derive_key(SECRET, PURPOSE_GOSSIP).hex() == GOSSIP_KEY
    # and they are what the module docstring says they are
    expected = hmac.new(SECRET, b"camkeep gossip v1\x01", hashlib.sha256).hexdigest()
    assert expected == GOSSIP_KEY


def test_token_key_derivations_keep_their_bytes() -> None:
    assert derive_token_key(SECRET, PURPOSE_LOGIN_TOKEN).hex() == LOGIN_TOKEN_KEY
    for purpose in (PURPOSE_LOGIN_TOKEN, PURPOSE_JOIN_TOKEN, PURPOSE_DETACH_CONFIRM):
        expected = hashlib.sha256(purpose + b"\0" + SECRET).digest()
        assert derive_token_key(SECRET, purpose) == expected


def test_every_purpose_gets_its_own_key() -> None:
    keys = {derive_key(SECRET, p) for p in (PURPOSE_INTERNODE, PURPOSE_GOSSIP)}
    keys |= {
        derive_token_key(SECRET, p)
        for p in (PURPOSE_LOGIN_TOKEN, PURPOSE_JOIN_TOKEN, PURPOSE_DETACH_CONFIRM)
    }
    assert len(keys) == 5 and SECRET not in keys


def test_login_token_issued_before_still_verifies() -> None:
    signer = TokenSigner(SECRET, "sys-1", lambda: 1_700_000_100.0)
    claims = signer.verify(LOGIN_TOKEN)
    assert (claims.username, claims.system_id, claims.expires_at) == (
        "alice",
        "sys-1",
        1_700_003_600.0,
    )
    with pytest.raises(AuthError):
        TokenSigner(b"another secret", "sys-1", lambda: 1_700_000_100.0).verify(LOGIN_TOKEN)


def test_join_token_minted_before_still_verifies() -> None:
    claims = verify_join_token(JOIN_TOKEN, SECRET, "sys-1", now=1_700_000_100.0)
    assert (claims.system_id, claims.nonce) == ("sys-1", "0011223344556677")
    with pytest.raises(JoinTokenError, match="forged"):
        verify_join_token(JOIN_TOKEN, SECRET[::-1], "sys-1", now=1_700_000_100.0)


def test_confirm_token_minted_before_still_confirms() -> None:
    check_confirm_token(CONFIRM_TOKEN, SECRET, "srv-b", True, now=1_700_000_010.0)
    with pytest.raises(ConfirmError, match="forged"):
        check_confirm_token(CONFIRM_TOKEN, SECRET[::-1], "srv-b", True, now=1_700_000_010.0)


def test_internode_signature_keeps_its_bytes() -> None:
    headers = sign_request(
        SECRET,
        "sys-1",
        "node-a",
        "POST",
        "/api/v1/internal/x?a=1",
        b"{}",
        now_ms=1_700_000_000_000,
        nonce="0" * 32,
    )
    assert headers["X-Camkeep-Signature"] == INTERNODE_SIGNATURE


def test_gossip_datagram_keeps_its_bytes() -> None:
    codec = GossipCodec("sys-1", "node-a", SECRET, boot=7)
    assert codec.encode("ping", {"x": 1}, incarnation=2, now_ms=1_700_000_000_000) == (
        GOSSIP_DATAGRAM
    )
    receiver = GossipCodec("sys-1", "node-b", SECRET, boot=8)
    assert receiver.decode(GOSSIP_DATAGRAM, 1_700_000_000_000).payload == {"x": 1}


def test_an_empty_secret_derives_no_key() -> None:
    for purpose in (PURPOSE_INTERNODE, PURPOSE_GOSSIP):
        with pytest.raises(ValueError, match="non-empty"):
            derive_key(b"", purpose)
    with pytest.raises(ValueError):
        derive_key("text secret", PURPOSE_GOSSIP)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ base64url


@given(st.binary(max_size=200))
def test_b64url_round_trips_and_matches_the_standard(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    "bad",
    [
        "YQ==",  # padding
        "Y",  # a length no encoding has
        "a+b/",  # the standard alphabet, not the URL one
        "YW Jj",  # whitespace
        "YW\nJj",
        "YWJj!",
        "YR",  # "a" with non-zero unused bits: a second spelling of YQ
        "ÿÿÿÿ",
    ],
)
def test_b64url_decode_is_strict(bad: str) -> None:
    with pytest.raises(Base64Error):
        b64url_decode(bad)


def test_b64url_decode_refuses_non_text() -> None:
    with pytest.raises(Base64Error):
        b64url_decode(b"YWJj")  # type: ignore[arg-type]
    assert issubclass(Base64Error, ValueError)  # callers catching ValueError keep working


def test_token_body_errors_are_value_errors() -> None:
    for payload in ("YQ==", b64url_encode(b"\xff\xfe"), b64url_encode(b"{not json")):
        with pytest.raises(ValueError):
            token_body(payload)


# ----------------------------------------------------------------------------- MACs


def test_mac_is_hmac_sha256() -> None:
    key = b"k" * 32
    assert mac(key, b"payload") == hmac.new(key, b"payload", hashlib.sha256).digest()
    assert mac_b64(key, "payload") == b64url_encode(mac(key, b"payload"))


def test_same_mac_tells_tampered_macs_apart() -> None:
    good = mac(b"k", b"payload")
    assert same_mac(good, mac(b"k", b"payload"))
    assert not same_mac(good, mac(b"k", b"payloae"))
    assert not same_mac(good, mac(b"K", b"payload"))
    assert not same_mac(good, good[:-1])
    text = b64url_encode(good)
    assert same_mac(text, b64url_encode(good))
    assert not same_mac(text, text[:-1] + ("A" if text[-1] != "A" else "B"))
    assert not same_mac(text, "é" * len(text))  # non-ASCII junk is a mismatch, no error


@pytest.mark.parametrize("part", [1, 2])
def test_a_tampered_sealed_token_is_refused(part: int) -> None:
    signer = TokenSigner(SECRET, "sys-1", lambda: 1_700_000_100.0)
    parts = LOGIN_TOKEN.split(".")
    flipped = "A" if parts[part][5] != "A" else "B"
    parts[part] = parts[part][:5] + flipped + parts[part][6:]
    with pytest.raises(AuthError, match="invalid token"):
        signer.verify(".".join(parts))


def test_seal_token_shape() -> None:
    key = derive_token_key(SECRET, PURPOSE_LOGIN_TOKEN)
    token = seal_token("ckx", key, {"a": 1, "b": "c"})
    prefix, payload, signature = token.split(".")
    assert prefix == "ckx" and token_body(payload) == {"a": 1, "b": "c"}
    assert b64url_decode(payload) == b'{"a":1,"b":"c"}'
    assert same_mac(mac_b64(key, payload), signature)


def test_non_ascii_signature_is_refused_not_crashed() -> None:
    signer = TokenSigner(SECRET, "sys-1", lambda: 1_700_000_100.0)
    prefix, payload, _ = LOGIN_TOKEN.split(".")
    with pytest.raises(AuthError):
        signer.verify(f"{prefix}.{payload}.{'é' * 43}")
    with pytest.raises(JoinTokenError):
        verify_join_token(JOIN_TOKEN[:-3] + "ééé", SECRET, "sys-1", now=1_700_000_100.0)
    with pytest.raises(ConfirmError):
        check_confirm_token(CONFIRM_TOKEN[:-1] + "é", SECRET, "srv-b", True, now=1_700_000_010.0)
