"""The verified-token cache of `TokenVerifier`: a repeated token skips the signature check, never past its
`exp` (plus leeway) nor `max_age_s`, never more than its bound, and never for a refused token."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servicekit.auth import Principal, TokenVerifier, VerifiedTokenCache
from servicekit.devtokens import mint_token
from servicekit.errors import Unauthorized

ISSUER, AUDIENCE = "dife-test", "dife"
LEEWAY_S = 30.0


class MovableTime:
    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@pytest.fixture(scope="module")
def private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class CountingVerifier:
    """A real verifier whose full (signature) verifications are counted."""

    def __init__(self, private_pem: str, clock: MovableTime, **options: int) -> None:
        self.verifier = TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            public_key_pem=public_pem(private_pem),
            leeway_s=LEEWAY_S,
            clock=clock,
            **options,
        )
        self.signature_checks = 0
        verify_signed: Callable[[str], Awaitable[Principal]] = self.verifier._verify_signed

        async def counted(token: str) -> Principal:
            self.signature_checks += 1
            return await verify_signed(token)

        self.verifier._verify_signed = counted


def token(private_pem: str, sub: str = "elu-1", ttl_s: int = 600) -> str:
    return mint_token(private_pem, sub=sub, roles=["elu"], issuer=ISSUER, audience=AUDIENCE, ttl_s=ttl_s)


async def test_a_token_verified_once_is_answered_from_the_cache(private_pem: str) -> None:
    counting = CountingVerifier(private_pem, MovableTime())
    bearer = token(private_pem)

    first = await counting.verifier.verify(bearer)
    second = await counting.verifier.verify(bearer)

    assert second == first and second.sub == "elu-1"
    assert counting.signature_checks == 1


async def test_a_cached_token_is_verified_again_once_past_its_exp_plus_leeway(private_pem: str) -> None:
    clock = MovableTime()
    counting = CountingVerifier(private_pem, clock)
    bearer = token(private_pem, ttl_s=120)
    await counting.verifier.verify(bearer)

    clock.offset_s = 120 + LEEWAY_S - 2  # just before exp + leeway: still from the cache
    await counting.verifier.verify(bearer)
    assert counting.signature_checks == 1

    clock.offset_s = 120 + LEEWAY_S + 1  # past it: the cache lets go, the token is checked again
    await counting.verifier.verify(bearer)
    assert counting.signature_checks == 2


async def test_a_cached_token_is_verified_again_after_the_cache_max_age(private_pem: str) -> None:
    clock = MovableTime()
    counting = CountingVerifier(private_pem, clock, jwks_cache_s=60)
    bearer = token(private_pem, ttl_s=3600)
    await counting.verifier.verify(bearer)

    clock.offset_s = 59
    await counting.verifier.verify(bearer)
    clock.offset_s = 61
    await counting.verifier.verify(bearer)

    assert counting.signature_checks == 2


async def test_a_refused_token_is_never_cached(private_pem: str) -> None:
    counting = CountingVerifier(private_pem, MovableTime())
    expired = token(private_pem, ttl_s=-int(LEEWAY_S) - 60)

    for _ in range(2):
        with pytest.raises(Unauthorized, match="expired"):
            await counting.verifier.verify(expired)

    assert counting.signature_checks == 2
    assert len(counting.verifier.cache) == 0


async def test_the_cache_holds_at_most_its_bound_dropping_the_oldest_first(private_pem: str) -> None:
    counting = CountingVerifier(private_pem, MovableTime(), cache_entries=3)
    bearers = [token(private_pem, sub=f"elu-{n}") for n in range(4)]
    for bearer in bearers:
        await counting.verifier.verify(bearer)
    assert len(counting.verifier.cache) == 3

    await counting.verifier.verify(bearers[3])  # newest: still cached
    assert counting.signature_checks == 4
    await counting.verifier.verify(bearers[0])  # oldest: dropped, checked again
    assert counting.signature_checks == 5


async def test_a_cache_of_size_zero_verifies_every_time(private_pem: str) -> None:
    counting = CountingVerifier(private_pem, MovableTime(), cache_entries=0)
    bearer = token(private_pem)
    await counting.verifier.verify(bearer)
    await counting.verifier.verify(bearer)
    assert counting.signature_checks == 2


def test_an_entry_expires_at_the_earlier_of_its_deadline_and_the_max_age() -> None:
    cache = VerifiedTokenCache(max_entries=10, max_age_s=100)
    principal = Principal(sub="elu-1", roles=frozenset({"elu"}))
    cache.put("short", principal, expires_at=1_050.0, now=1_000.0)
    cache.put("long", principal, expires_at=9_999.0, now=1_000.0)

    assert cache.get("short", 1_049.9) is principal
    assert cache.get("short", 1_050.0) is None
    assert cache.get("long", 1_099.9) is principal
    assert cache.get("long", 1_100.0) is None
