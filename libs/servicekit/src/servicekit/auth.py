"""JWT bearer authentication and role/ownership checks shared by every service.

Tokens are verified against a JWKS URL in production or a local PEM public key in development, and only with
asymmetric algorithms (RS256, ES256): `alg=none` and HMAC tokens keyed with the public key are refused before
any signature check. Each endpoint names its roles with `require_roles(...)` and checks ownership on the
returned `Principal` (an élu sees only their own account, an organisme only its own offers and dossiers).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Annotated, Any, Protocol
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from dife_contracts.enums import Role
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from servicekit.errors import Forbidden, Unauthorized

ACCEPTED_ALGORITHMS = frozenset({"RS256", "ES256"})
DEFAULT_LEEWAY_S = 30.0
DEFAULT_CACHE_ENTRIES = 8192
ROLES_CLAIM = "roles"
PRINCIPAL_SCOPE_KEY = "dife_principal"
"""Where `servicekit.guard` leaves the principal it verified before the body was read (request.state)."""
ELU_ID_CLAIM = "elu_id"


STAFF_ROLES = frozenset({Role.AGENT, Role.OPS})
"""CDC staff act on behalf of any élu, organisme or collectivité, so ownership checks let them through."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proved by a verified token. `sub` is the elu_id for an élu."""

    sub: str
    roles: frozenset[str]
    siret: str | None = None
    siren: str | None = None
    claims: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False, repr=False
    )

    def acting_for(self, granted: frozenset[str]) -> Principal:
        """The principal as one endpoint sees it: only the roles that endpoint grants, and when a non-staff
        role grants access, that role alone, so its ownership checks apply (a token holding `elu` and `ops`
        gets no union of bypasses)."""
        roles = self.roles & granted
        ordinary = roles - STAFF_ROLES
        return replace(self, roles=ordinary or roles)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def has_any_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return not self.roles.isdisjoint(STAFF_ROLES)

    @property
    def elu_id(self) -> str | None:
        """The élu an `elu` token speaks for: its `elu_id` claim (tokens issued once the account is
        activated; the identity provider's `sub` is not ours), else its `sub`."""
        if not self.has_role(Role.ELU):
            return None
        return str(self.claims.get(ELU_ID_CLAIM) or self.sub)

    def ensure_elu(self, elu_id: UUID | str) -> None:
        """An élu may act only on their own account; agents and ops on any."""
        if self.is_staff:
            return
        if not self.has_role(Role.ELU):
            raise Forbidden("only the élu concerned, an agent or ops may access this élu's data")
        if self.elu_id != str(elu_id):
            raise Forbidden("an élu may only access their own account")

    def ensure_siret(self, siret: str) -> None:
        """An organisme de formation may act only for its own SIRET; agents and ops for any."""
        if self.is_staff:
            return
        if not self.has_role(Role.ORGANISME):
            raise Forbidden("only the organisme concerned, an agent or ops may access this organisme's data")
        if self.siret != siret:
            raise Forbidden("an organisme may only access its own offers and dossiers (SIRET mismatch)")

    def ensure_siren(self, siren: str) -> None:
        """A collectivité may act only for its own SIREN; agents and ops for any."""
        if self.is_staff:
            return
        if not self.has_role(Role.COLLECTIVITE):
            raise Forbidden(
                "only the collectivité concerned, an agent or ops may access this collectivité's data"
            )
        if self.siren != siren:
            raise Forbidden("a collectivité may only access its own declarations (SIREN mismatch)")


class JwtSettings(Protocol):
    """The settings fields a `TokenVerifier` is built from (a subset of `KitSettings`)."""

    jwt_public_key_pem: str | None
    jwt_jwks_url: str | None
    jwt_issuer: str
    jwt_audience: str


_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def _algorithm_for(key: object) -> str:
    """Pin the algorithm to the key type, so a token cannot choose how it is checked."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError("the JWT public key must be RSA or EC P-256")


class VerifiedTokenCache:
    """Tokens already verified, keyed by the token itself, each until its `exp` (plus the leeway verification
    allows) or `max_age_s`, whichever comes first; at most `max_entries`, the oldest dropped first.

    Same bytes, same signature check: only the time-dependent checks could change their answer, and the
    deadline keeps them. `max_age_s` bounds how long a token signed by a key since withdrawn from the JWKS
    stays accepted to the JWKS cache's own lifetime. Only successes are kept: garbage tokens cannot fill it.
    """

    def __init__(self, *, max_entries: int = DEFAULT_CACHE_ENTRIES, max_age_s: float = 300.0) -> None:
        self.max_entries = max_entries
        self.max_age_s = max_age_s
        self._entries: dict[str, tuple[Principal, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now >= entry[1]:
            del self._entries[token]
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, *, expires_at: float, now: float) -> None:
        if self.max_entries <= 0:
            return
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, min(expires_at, now + self.max_age_s))


class TokenVerifier:
    """Verifies bearer tokens into `Principal`s. Build it once per app (`from_settings`), not per request:
    it keeps the tokens it verified (`VerifiedTokenCache`), so an élu's next calls skip the RS256 check."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str | None = None,
        jwks_url: str | None = None,
        leeway_s: float = DEFAULT_LEEWAY_S,
        jwks_cache_s: float = 300.0,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (public_key_pem is None) == (jwks_url is None):
            raise ValueError("configure exactly one of a JWT public key (PEM) or a JWKS URL")
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._local_key: _PublicKey | None = None
        self._local_algorithm: str | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_cache_s = jwks_cache_s
        self._jwks_keys: dict[str, tuple[jwt.PyJWK, float]] = {}
        self._clock = clock
        self.cache = VerifiedTokenCache(max_entries=cache_entries, max_age_s=jwks_cache_s)
        if public_key_pem is not None:
            key = load_pem_public_key(public_key_pem.encode())
            self._local_algorithm = _algorithm_for(key)
            assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
            self._local_key = key
        else:
            assert jwks_url is not None
            self._jwks = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=jwks_cache_s, timeout=5)

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> TokenVerifier:
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            public_key_pem=settings.jwt_public_key_pem,
            jwks_url=None if settings.jwt_public_key_pem is not None else settings.jwt_jwks_url,
        )

    async def verify(self, token: str) -> Principal:
        """Verify signature, algorithm, `exp`, `iss`, `aud` and `sub`; raise `Unauthorized` on any failure.
        A token verified before and not yet expired is answered from the cache."""
        now = self._clock()
        cached = self.cache.get(token, now)
        if cached is not None:
            return cached
        principal = await self._verify_signed(token)
        expires_at = int(principal.claims["exp"]) + self.leeway_s
        self.cache.put(token, principal, expires_at=expires_at, now=now)
        return principal

    async def _verify_signed(self, token: str) -> Principal:
        header = _unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ACCEPTED_ALGORITHMS:
            raise Unauthorized(
                "token algorithm not accepted (RS256 or ES256 only)", bearer_error="invalid_token"
            )
        if self._local_key is not None:
            key: Any = self._local_key
            if algorithm != self._local_algorithm:
                raise Unauthorized("token algorithm does not match the key", bearer_error="invalid_token")
        else:
            signing_key = await self._jwks_key(header.get("kid"))
            if signing_key.algorithm_name != algorithm:
                raise Unauthorized("token algorithm does not match the key", bearer_error="invalid_token")
            key = signing_key.key
        return self._decode(token, key, algorithm)

    async def _jwks_key(self, kid: object) -> jwt.PyJWK:
        """Cache keys by kid so the hot path never blocks; a JWKS fetch (blocking I/O) runs in a thread."""
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token has no key id (kid)", bearer_error="invalid_token")
        cached = self._jwks_keys.get(kid)
        now = time.monotonic()
        if cached is not None and now - cached[1] < self._jwks_cache_s:
            return cached[0]
        assert self._jwks is not None
        try:
            signing_key = await run_in_threadpool(self._jwks.get_signing_key, kid)
        except jwt.PyJWKClientError as error:
            raise Unauthorized("token signed by an unknown key", bearer_error="invalid_token") from error
        self._jwks_keys[kid] = (signing_key, now)
        return signing_key

    def _decode(self, token: str, key: Any, algorithm: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("token expired", bearer_error="invalid_token") from error
        except jwt.InvalidIssuerError as error:
            raise Unauthorized("token issuer not accepted", bearer_error="invalid_token") from error
        except jwt.InvalidAudienceError as error:
            raise Unauthorized("token audience not accepted", bearer_error="invalid_token") from error
        except jwt.MissingRequiredClaimError as error:
            raise Unauthorized(
                f"token lacks the {error.claim!r} claim", bearer_error="invalid_token"
            ) from error
        except jwt.InvalidSignatureError as error:
            raise Unauthorized("token signature invalid", bearer_error="invalid_token") from error
        except jwt.PyJWTError as error:
            raise Unauthorized("token invalid", bearer_error="invalid_token") from error
        return _principal_from(claims)


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthorized("token malformed", bearer_error="invalid_token") from error


def _principal_from(claims: dict[str, Any]) -> Principal:
    roles = claims.get(ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthorized("token 'roles' claim must be a list of strings", bearer_error="invalid_token")
    siret, siren = claims.get("siret"), claims.get("siren")
    if not isinstance(siret, str | None) or not isinstance(siren, str | None):
        raise Unauthorized("token 'siret' and 'siren' claims must be strings", bearer_error="invalid_token")
    return Principal(
        sub=claims["sub"],
        roles=frozenset(roles),
        siret=siret,
        siren=siren,
        claims=MappingProxyType(claims),
    )


BEARER_SCHEME_NAME = "bearerAuth"
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME_NAME,
    bearerFormat="JWT",
    description="JWT signed RS256 or ES256; roles in the `roles` claim.",
)


OPTIONAL_BEARER_SCHEME_NAME = "bearerAuthOptional"
optional_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name=OPTIONAL_BEARER_SCHEME_NAME,
    bearerFormat="JWT",
    description="Optional: a public endpoint that shows more to the owner when a valid token is sent.",
)


def _token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(getattr(request.app.state, "kit", None), "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.kit.token_verifier is not set: build the app with create_service_app")
    return verifier


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    """FastAPI dependency: the caller behind a valid bearer token, whatever their roles."""
    if credentials is None:
        raise Unauthorized("a bearer token is required")
    verified = getattr(request.state, PRINCIPAL_SCOPE_KEY, None)
    if isinstance(verified, Principal):
        return verified
    return await _token_verifier(request).verify(credentials.credentials)


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency factory: the caller, who must hold at least one of `roles` (else 403).

    `principal: Annotated[Principal, Depends(require_roles("elu", "agent"))]`. Role names are checked here,
    at import of the router, so a typo fails the service's start rather than locking everyone out.
    """
    if not roles:
        raise ValueError("name at least one role; use current_principal for any authenticated caller")
    accepted = frozenset(Role(role).value for role in roles)

    async def principal_with_role(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> Principal:
        return acting_with_role(await current_principal(request, credentials), accepted)

    _ROLES_OF_DEPENDENCY[principal_with_role] = accepted
    return principal_with_role


_ROLES_OF_DEPENDENCY: dict[Callable[..., Any], frozenset[str]] = {}


def roles_required_by(dependency: Callable[..., Any]) -> frozenset[str] | None:
    """The roles a `require_roles(...)` dependency accepts, or None for any other callable (so a read
    shortcut grants exactly what its route's dependency grants)."""
    return _ROLES_OF_DEPENDENCY.get(dependency)


def acting_with_role(principal: Principal, accepted: frozenset[str]) -> Principal:
    """`principal` as an endpoint granting `accepted` sees it (`Principal.acting_for`), or 403 when it
    holds none of them."""
    if principal.roles.isdisjoint(accepted):
        raise Forbidden(f"this operation requires one of the roles: {', '.join(sorted(accepted))}")
    return principal.acting_for(accepted)


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(optional_bearer_scheme)],
) -> Principal | None:
    """Public endpoints that show more to an owner: the caller if a token is sent (it must then be valid)."""
    if credentials is None:
        return None
    return await _token_verifier(request).verify(credentials.credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
