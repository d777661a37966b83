"""Local bearer tokens, minted fast: the dev private key is read and parsed once, then each token is one
signature (~1 ms), so `dife token --count 1000` is one key parse and 1,000 signatures.

Only `jwt` and `cryptography` are imported here: `servicekit.devtokens` pulls FastAPI through
`servicekit.auth` (seconds of imports on a busy machine), so it is used only to create the key pair the first
time. The key files and claims are the ones `servicekit.devtokens` uses, so every local service accepts them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PRIVATE_KEY_FILE = "dev-jwt-private.pem"  # servicekit.devtokens.PRIVATE_KEY_FILE
ROLES = ("elu", "organisme", "collectivite", "agent", "ops")
"""`dife_contracts.enums.Role` values (a unit test keeps them equal; importing the contracts costs ~1 s)."""
CLI_SUBJECT = "dife-cli"


@dataclass(frozen=True)
class Identity:
    """The claims of a token besides its roles (FranceConnect names for the identity ones)."""

    sub: str | None = None
    elu_id: str | None = None
    siret: str | None = None
    siren: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    birthdate: str | None = None
    gender: str | None = None

    def claims(self) -> dict[str, str]:
        values = {
            "elu_id": self.elu_id,
            "siret": self.siret,
            "siren": self.siren,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "birthdate": self.birthdate,
            "gender": self.gender,
        }
        return {name: value for name, value in values.items() if value is not None}


def repo_root(start: Path | None = None) -> Path:
    """The nearest directory above `start` holding `.git` or the uv workspace (as servicekit.devtokens)."""
    origin = (start or Path.cwd()).resolve()
    for directory in (origin, *origin.parents):
        if (directory / ".git").exists():
            return directory
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text(encoding="utf-8"):
            return directory
    raise FileNotFoundError("no repository root (.git or uv workspace) above the current directory")


def load_dev_private_pem(keys_dir: Path | None) -> str:
    """The dev private key, created with `servicekit.devtokens` on first use."""
    directory = keys_dir or repo_root() / ".local" / "keys"
    path = directory / PRIVATE_KEY_FILE
    if path.is_file():
        return path.read_text(encoding="ascii")
    from servicekit.devtokens import ensure_dev_keypair

    private_pem, _ = ensure_dev_keypair(directory)
    return private_pem


class Minter:
    """Signs tokens with one parsed private key (RS256 for RSA, ES256 for EC P-256)."""

    def __init__(self, private_pem: str, *, issuer: str, audience: str) -> None:
        key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            self._algorithm = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            self._algorithm = "ES256"
        else:
            raise ValueError("dev tokens are signed with an RSA or EC P-256 private key")
        self._key = key
        self._issuer = issuer
        self._audience = audience

    def mint(self, roles: list[str], identity: Identity, *, ttl_s: int = 3600) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": identity.sub or default_subject(roles, identity),
            "roles": sorted(set(roles)),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
            **identity.claims(),
        }
        return jwt.encode(payload, self._key, algorithm=self._algorithm)


def default_subject(roles: list[str], identity: Identity) -> str:
    """An élu's subject is its elu_id when given, else a fresh one; other roles get `dev-<role>`."""
    if "elu" in roles:
        return identity.elu_id or str(uuid.uuid4())
    return f"dev-{sorted(roles)[0]}"
