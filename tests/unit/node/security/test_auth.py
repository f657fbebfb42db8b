"""Passwords, signed tokens with an injected clock, roles, login throttling."""

from __future__ import annotations

import pytest

from node.security import (
    AuthError,
    LoginThrottle,
    Role,
    TokenSigner,
    hash_password,
    role_allows,
    verify_password,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_argon2_hash_and_verify() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password(None, "correct horse")  # unknown user
    assert not verify_password("not a hash", "x")


def test_token_round_trip_and_expiry() -> None:
    clock = Clock()
    signer = TokenSigner(b"s" * 32, "system-1", clock)
    token, claims = signer.issue("alice", ttl_s=60)
    assert claims.expires_at == clock.now + 60
    assert signer.verify(token).username == "alice"
    clock.now += 59.9
    assert signer.verify(token).username == "alice"
    clock.now += 0.1
    with pytest.raises(AuthError, match="expired"):
        signer.verify(token)


def test_token_from_another_node_of_the_same_system_verifies() -> None:
    clock = Clock()
    token, _ = TokenSigner(b"k" * 32, "sys", clock).issue("bob", 60)
    assert TokenSigner(b"k" * 32, "sys", clock).verify(token).username == "bob"


@pytest.mark.parametrize("mutation", ["secret", "system", "payload", "signature", "prefix"])
def test_forged_tokens_are_refused(mutation: str) -> None:
    clock = Clock()
    signer = TokenSigner(b"k" * 32, "sys", clock)
    token, _ = signer.issue("bob", 60)
    prefix, payload, signature = token.split(".")
    if mutation == "secret":
        checker, candidate = TokenSigner(b"other" * 8, "sys", clock), token
    elif mutation == "system":
        checker, candidate = TokenSigner(b"k" * 32, "other-sys", clock), token
    elif mutation == "payload":
        checker, candidate = signer, f"{prefix}.{payload[:-2]}xx.{signature}"
    elif mutation == "signature":
        checker, candidate = signer, f"{prefix}.{payload}.{signature[:-2]}xx"
    else:
        checker, candidate = signer, f"ck0.{payload}.{signature}"
    with pytest.raises(AuthError):
        checker.verify(candidate)


@pytest.mark.parametrize(
    "garbage", ["", "x", "a.b.c", "ck1..", "ck1.!!!.@@@", "ck1." + "A" * 5000 + ".x"]
)
def test_garbage_tokens_are_refused(garbage: str) -> None:
    with pytest.raises(AuthError):
        TokenSigner(b"k" * 32, "sys", Clock()).verify(garbage)


@pytest.mark.parametrize(
    ("role", "required", "allowed"),
    [
        (Role.owner, Role.owner, True),
        (Role.owner, Role.admin, True),
        (Role.owner, Role.viewer, True),
        (Role.admin, Role.owner, False),
        (Role.admin, Role.admin, True),
        (Role.admin, Role.viewer, True),
        (Role.viewer, Role.owner, False),
        (Role.viewer, Role.admin, False),
        (Role.viewer, Role.viewer, True),
    ],
)
def test_roles(role: Role, required: Role, allowed: bool) -> None:
    assert role_allows(role, required) is allowed
    assert role_allows(role.value, required.value) is allowed


def test_throttle_backs_off_per_user_and_address() -> None:
    clock = Clock(0.0)
    throttle = LoginThrottle(
        clock, free_failures=2, base_delay_s=1, max_delay_s=8, reset_after_s=100
    )
    assert throttle.failed("u", "a") == 0
    assert throttle.failed("u", "a") == 0
    assert throttle.retry_after("u", "a") == 0
    assert throttle.failed("u", "a") == 1
    assert throttle.retry_after("u", "a") == 1
    assert throttle.retry_after("u", "other-address") == 0  # per (user, address)
    assert throttle.retry_after("v", "a") == 0
    delays = [throttle.failed("u", "a") for _ in range(5)]
    assert delays == [2, 4, 8, 8, 8]  # doubling, capped
    clock.now += 3
    assert throttle.retry_after("u", "a") == 5
    throttle.succeeded("u", "a")
    assert throttle.retry_after("u", "a") == 0


def test_throttle_forgets_after_quiet_period() -> None:
    clock = Clock(0.0)
    throttle = LoginThrottle(
        clock, free_failures=0, base_delay_s=10, max_delay_s=10, reset_after_s=50
    )
    assert throttle.failed("u", "a") == 10
    clock.now += 51
    assert throttle.retry_after("u", "a") == 0
    assert throttle.failed("u", "a") == 10  # counting starts again


def test_throttle_memory_is_bounded() -> None:
    clock = Clock(0.0)
    throttle = LoginThrottle(clock, free_failures=0)
    throttle.MAX_KEYS = 50
    for i in range(200):
        clock.now += 0.001
        throttle.failed(f"user{i}", "a")
    assert len(throttle._failures) <= 50
