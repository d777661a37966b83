from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from servicekit.auth import Principal, TokenVerifier, current_principal, require_roles
from servicekit.devtokens import mint_token
from servicekit.errors import PROBLEM_MEDIA_TYPE, Forbidden, install_problem_handlers

ISSUER = "dife-test"
AUDIENCE = "dife"
ELU_ID = "6f1c2a9e-8d1b-4a57-9a0e-3b1f7c5d2e10"


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def _pems(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem, public_pem)


@pytest.fixture(scope="module")
def rsa_keys() -> KeyPair:
    return _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def other_rsa_keys() -> KeyPair:
    return _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_keys() -> KeyPair:
    return _pems(ec.generate_private_key(ec.SECP256R1()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "agent-1",
        "roles": ["agent"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def make_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.kit = types.SimpleNamespace(token_verifier=verifier)
    install_problem_handlers(app)

    @app.get("/v1/accounts/{elu_id}")
    async def read_account(
        elu_id: uuid.UUID, principal: Annotated[Principal, Depends(require_roles("elu", "agent"))]
    ) -> dict[str, str]:
        principal.ensure_elu(elu_id)
        return {"sub": principal.sub}

    @app.get("/v1/me")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
        return {"sub": principal.sub, "roles": sorted(principal.roles), "siret": principal.siret}

    return app


@pytest.fixture
async def client(rsa_keys: KeyPair) -> AsyncIterator[httpx.AsyncClient]:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=rsa_keys.public_pem)
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _assert_401(response: httpx.Response, detail_part: str = "") -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert detail_part in response.json()["detail"]


async def test_valid_rs256_token_with_the_role_is_accepted(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    token = mint_token(rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer=ISSUER, audience=AUDIENCE)

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"sub": "agent-1"}


async def test_elu_reads_their_own_account(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(rsa_keys.private_pem, sub=ELU_ID, roles=["elu"], issuer=ISSUER, audience=AUDIENCE)

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token))

    assert response.status_code == 200


async def test_elu_cannot_read_another_elus_account_403(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(
        rsa_keys.private_pem, sub=str(uuid.uuid4()), roles=["elu"], issuer=ISSUER, audience=AUDIENCE
    )

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token))

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "own account" in response.json()["detail"]


async def test_valid_token_without_any_required_role_is_403(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    token = mint_token(
        rsa_keys.private_pem,
        sub="of-1",
        roles=["organisme"],
        issuer=ISSUER,
        audience=AUDIENCE,
        siret="1" * 14,
    )

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token))

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "agent, elu" in response.json()["detail"]


async def test_current_principal_carries_roles_and_siret(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    token = mint_token(
        rsa_keys.private_pem,
        sub="of-1",
        roles=["organisme"],
        issuer=ISSUER,
        audience=AUDIENCE,
        siret="1" * 14,
    )

    response = await client.get("/v1/me", headers=bearer(token))

    assert response.json() == {"sub": "of-1", "roles": ["organisme"], "siret": "1" * 14}


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/accounts/{ELU_ID}")

    await _assert_401(response, "bearer token is required")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_non_bearer_scheme_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/accounts/{ELU_ID}", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    await _assert_401(response)


async def test_malformed_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer("not-a-jwt"))

    await _assert_401(response, "malformed")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_token_signed_by_another_key_is_401(client: httpx.AsyncClient, other_rsa_keys: KeyPair) -> None:
    token = mint_token(
        other_rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer=ISSUER, audience=AUDIENCE
    )

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "signature")


async def test_tampered_claims_are_401(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(rsa_keys.private_pem, sub="elu-1", roles=["elu"], issuer=ISSUER, audience=AUDIENCE)
    header, _, signature = token.split(".")
    forged_claims = _b64(json.dumps(_claims(sub="elu-1", roles=["agent"])).encode())

    response = await client.get(
        f"/v1/accounts/{ELU_ID}", headers=bearer(f"{header}.{forged_claims}.{signature}")
    )

    await _assert_401(response)


async def test_alg_none_token_is_401(client: httpx.AsyncClient) -> None:
    token = _unsigned_token({"alg": "none", "typ": "JWT"}, _claims()) + "."

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "algorithm")


async def test_hs256_token_keyed_with_the_public_pem_is_401(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    signing_input = _unsigned_token({"alg": "HS256", "typ": "JWT"}, _claims())
    mac = hmac.new(rsa_keys.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(f"{signing_input}.{_b64(mac)}"))

    await _assert_401(response, "algorithm")


async def test_expired_token_is_401(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(
        rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer=ISSUER, audience=AUDIENCE, ttl_s=-120
    )

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "expired")


async def test_token_expired_within_the_leeway_is_accepted(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    token = mint_token(
        rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer=ISSUER, audience=AUDIENCE, ttl_s=-5
    )

    response = await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token))

    assert response.status_code == 200


async def test_wrong_issuer_is_401(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer="evil", audience=AUDIENCE)

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "issuer")


async def test_wrong_audience_is_401(client: httpx.AsyncClient, rsa_keys: KeyPair) -> None:
    token = mint_token(
        rsa_keys.private_pem, sub="agent-1", roles=["agent"], issuer=ISSUER, audience="other-app"
    )

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "audience")


@pytest.mark.parametrize("missing", ["exp", "sub"])
async def test_token_without_exp_or_sub_is_401(
    client: httpx.AsyncClient, rsa_keys: KeyPair, missing: str
) -> None:
    private_key = serialization.load_pem_private_key(rsa_keys.private_pem.encode(), password=None)
    token = jwt.encode(_claims(**{missing: None}), private_key, algorithm="RS256")  # type: ignore[arg-type]

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), missing)


async def test_roles_claim_that_is_not_a_list_of_strings_is_401(
    client: httpx.AsyncClient, rsa_keys: KeyPair
) -> None:
    private_key = serialization.load_pem_private_key(rsa_keys.private_pem.encode(), password=None)
    token = jwt.encode(_claims(roles="agent"), private_key, algorithm="RS256")  # type: ignore[arg-type]

    await _assert_401(await client.get(f"/v1/accounts/{ELU_ID}", headers=bearer(token)), "roles")


async def test_es256_token_is_accepted_with_an_ec_public_key(ec_keys: KeyPair) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=ec_keys.public_pem)
    token = mint_token(ec_keys.private_pem, sub="ops-1", roles=["ops"], issuer=ISSUER, audience=AUDIENCE)

    principal = await verifier.verify(token)

    assert principal.sub == "ops-1"
    assert principal.roles == frozenset({"ops"})
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


async def test_rs256_token_is_refused_by_an_ec_key_verifier(ec_keys: KeyPair, rsa_keys: KeyPair) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=ec_keys.public_pem)
    token = mint_token(rsa_keys.private_pem, sub="ops-1", roles=["ops"], issuer=ISSUER, audience=AUDIENCE)

    app = make_app(verifier)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        await _assert_401(await http.get("/v1/me", headers=bearer(token)), "algorithm")


@pytest.fixture(scope="module")
def jwks_url(ec_keys: KeyPair) -> Iterator[str]:
    public_key = serialization.load_pem_public_key(ec_keys.public_pem.encode())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key))  # type: ignore[arg-type]
    body = json.dumps({"keys": [{**jwk, "kid": "key-2026", "use": "sig", "alg": "ES256"}]}).encode()

    class JwksHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


async def test_token_verified_against_a_jwks_url(jwks_url: str, ec_keys: KeyPair) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    token = mint_token(
        ec_keys.private_pem, sub=ELU_ID, roles=["elu"], issuer=ISSUER, audience=AUDIENCE, kid="key-2026"
    )

    assert (await verifier.verify(token)).sub == ELU_ID
    assert (await verifier.verify(token)).roles == frozenset({"elu"})


async def test_jwks_token_with_an_unknown_kid_is_401(jwks_url: str, ec_keys: KeyPair) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url)
    token = mint_token(
        ec_keys.private_pem, sub="x", roles=["elu"], issuer=ISSUER, audience=AUDIENCE, kid="rotated"
    )
    app = make_app(verifier)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        await _assert_401(await http.get("/v1/me", headers=bearer(token)), "unknown key")


def test_verifier_from_settings_prefers_the_local_key(rsa_keys: KeyPair) -> None:
    settings = types.SimpleNamespace(
        jwt_public_key_pem=rsa_keys.public_pem,
        jwt_jwks_url="https://idp/jwks",
        jwt_issuer=ISSUER,
        jwt_audience="x",
    )

    verifier = TokenVerifier.from_settings(settings)

    assert verifier.audience == "x"


def test_verifier_needs_a_key_source() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE)


def test_require_roles_rejects_an_unknown_role_name_at_definition() -> None:
    with pytest.raises(ValueError):
        require_roles("agnet")


def test_openapi_documents_the_bearer_scheme(rsa_keys: KeyPair) -> None:
    app = make_app(TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=rsa_keys.public_pem))

    schema = app.openapi()

    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "JWT signed RS256 or ES256; roles in the `roles` claim.",
    }
    assert schema["paths"]["/v1/me"]["get"]["security"] == [{"bearerAuth": []}]


def principal(
    *roles: str, sub: str = "s", siret: str | None = None, siren: str | None = None, **claims: str
) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), siret=siret, siren=siren, claims=claims)


def test_agent_and_ops_pass_every_ownership_check() -> None:
    for staff in (principal("agent"), principal("ops")):
        staff.ensure_elu(uuid.uuid4())
        staff.ensure_siret("12345678900011")
        staff.ensure_siren("123456789")


def test_elu_ownership_is_by_subject() -> None:
    elu_id = uuid.uuid4()

    principal("elu", sub=str(elu_id)).ensure_elu(elu_id)
    principal("elu", sub=str(elu_id)).ensure_elu(str(elu_id))
    with pytest.raises(Forbidden):
        principal("elu", sub=str(elu_id)).ensure_elu(uuid.uuid4())
    with pytest.raises(Forbidden):
        principal("organisme", sub=str(elu_id)).ensure_elu(elu_id)


def test_elu_ownership_follows_the_elu_id_claim_when_the_subject_is_the_identity_providers() -> None:
    elu_id = uuid.uuid4()
    franceconnect = principal("elu", sub="fc-7f3a", elu_id=str(elu_id))

    franceconnect.ensure_elu(elu_id)
    assert franceconnect.elu_id == str(elu_id)
    with pytest.raises(Forbidden):
        franceconnect.ensure_elu(uuid.uuid4())
    with pytest.raises(Forbidden):
        principal("elu", sub="fc-7f3a").ensure_elu(elu_id)


def test_organisme_ownership_is_by_siret() -> None:
    principal("organisme", siret="12345678900011").ensure_siret("12345678900011")
    with pytest.raises(Forbidden, match="SIRET"):
        principal("organisme", siret="12345678900011").ensure_siret("99999999900011")
    with pytest.raises(Forbidden):
        principal("elu", siret="12345678900011").ensure_siret("12345678900011")


def test_collectivite_ownership_is_by_siren() -> None:
    principal("collectivite", siren="123456789").ensure_siren("123456789")
    with pytest.raises(Forbidden, match="SIREN"):
        principal("collectivite", siren="123456789").ensure_siren("987654321")
    with pytest.raises(Forbidden):
        principal("organisme", siren="123456789").ensure_siren("123456789")


def test_has_role() -> None:
    assert principal("elu").has_role("elu")
    assert not principal("elu").has_role("agent")
    assert principal("elu").has_any_role("agent", "elu")


def test_a_token_with_two_roles_gets_the_ownership_of_the_role_that_grants_access() -> None:
    """`elu` B + `ops` on an endpoint granted to élus and agents acts as élu B: no staff bypass."""
    from servicekit.errors import Forbidden

    elu_b_and_ops = Principal(sub="elu-b", roles=frozenset({"elu", "ops"}))
    seen = elu_b_and_ops.acting_for(frozenset({"elu", "agent"}))
    assert seen.roles == frozenset({"elu"})
    seen.ensure_elu("elu-b")
    with pytest.raises(Forbidden):
        seen.ensure_elu("elu-a")


def test_a_non_staff_role_granting_access_wins_over_a_staff_role_granted_too() -> None:
    from servicekit.errors import Forbidden

    both = Principal(sub="x", roles=frozenset({"organisme", "ops"}), siret="22222222222222")
    seen = both.acting_for(frozenset({"organisme", "agent", "ops"}))
    assert seen.roles == frozenset({"organisme"})
    with pytest.raises(Forbidden):
        seen.ensure_siret("11111111111111")


def test_a_staff_role_alone_granting_access_keeps_its_bypass() -> None:
    ops = Principal(sub="o", roles=frozenset({"ops", "elu"})).acting_for(frozenset({"agent", "ops"}))
    assert ops.roles == frozenset({"ops"})
    ops.ensure_siret("11111111111111")
