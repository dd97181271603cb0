"""Login throttling (a fake clock) and password checks."""

from __future__ import annotations

import bcrypt

from lambdarag.api.auth import LoginThrottle, check_password


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_counts_failures_per_key_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 300, clock)
    alice, bob = ("10.0.0.1", "alice"), ("10.0.0.1", "bob")
    for _ in range(3):
        assert throttle.retry_after(alice) is None
        throttle.attempt(alice)
        clock.now += 10
    # THEN the fourth attempt waits until the first failure leaves the window
    assert throttle.retry_after(alice) == 270
    assert throttle.retry_after(bob) is None
    assert throttle.retry_after(("10.0.0.2", "alice")) is None
    clock.now += 270
    assert throttle.retry_after(alice) is None


def test_a_success_forgives_the_attempts() -> None:
    throttle = LoginThrottle(2, 300, Clock())
    key = ("ip", "alice")
    throttle.attempt(key)
    throttle.attempt(key)
    assert throttle.retry_after(key) is not None
    throttle.succeeded(key)
    assert throttle.retry_after(key) is None


def test_zero_attempts_disables_the_throttle() -> None:
    throttle = LoginThrottle(0, 300, Clock())
    for _ in range(100):
        throttle.attempt(("ip", "alice"))
    assert throttle.retry_after(("ip", "alice")) is None


def test_passwords_plain_and_bcrypt() -> None:
    assert check_password("s3cret", "s3cret")
    assert not check_password("s3cret", "s3cre")
    assert not check_password("s3cret", "s3cret ")
    hashed = "{bcrypt}" + bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    assert check_password(hashed, "pw") and not check_password(hashed, "wp")
    # bcrypt reads 72 bytes; longer passwords compare on those, as the hash was made
    long = "p" * 80
    truncated = "{bcrypt}" + bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert check_password(truncated, long)
    assert not check_password("{bcrypt}" + hashed[8:], "p" * 80)
