"""Development tokens: a local RS256 key pair and a command that mints bearer tokens signed with it.

`python -m servicekit.devtokens --role agent` prints a token that every locally run service accepts, because
`make run` points their `*_JWT_PUBLIC_KEY_PEM` at the public half of the same pair (kept under
`<repo>/.local/keys/`, which git ignores). Never used in production, where tokens come from the identity
provider and are checked against its JWKS.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from servicekit.auth import Role

DEV_ISSUER = "dife-dev"
DEV_AUDIENCE = "dife"
PRIVATE_KEY_FILE = "dev-jwt-private.pem"
PUBLIC_KEY_FILE = "dev-jwt-public.pem"


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory above `start` holding `.git` or the uv workspace's `pyproject.toml`."""
    for origin in (start or Path.cwd(), Path(__file__)):
        for directory in (origin.resolve(), *origin.resolve().parents):
            if (directory / ".git").exists() or _is_workspace_root(directory / "pyproject.toml"):
                return directory
    raise FileNotFoundError("no repository root (.git or [tool.uv.workspace]) above the current directory")


def _is_workspace_root(pyproject: Path) -> bool:
    try:
        return "[tool.uv.workspace]" in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def default_keys_dir() -> Path:
    return find_repo_root() / ".local" / "keys"


def ensure_dev_keypair(directory: Path | None = None) -> tuple[str, str]:
    """Return `(private_pem, public_pem)`, creating the pair on first use.

    Several services start at once under `make run`, so creation must be race-free: the private key is
    published with `os.link` (fails if another process got there first, never exposes a half-written file) and
    the public key is always derived from whichever private key won.
    """
    directory = directory or default_keys_dir()
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_FILE
    if not private_path.exists():
        _publish_if_absent(private_path, _new_rsa_private_pem())
    private_pem = private_path.read_text(encoding="ascii")
    public_pem = public_pem_of(private_pem)
    public_path = directory / PUBLIC_KEY_FILE
    if not public_path.exists() or public_path.read_text(encoding="ascii") != public_pem:
        _write_atomically(public_path, public_pem, mode=0o644)
    return private_pem, public_pem


def _new_rsa_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _publish_if_absent(path: Path, content: str) -> None:
    temporary = _temporary_file(path.parent, content, mode=0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _write_atomically(path: Path, content: str, *, mode: int) -> None:
    os.replace(_temporary_file(path.parent, content, mode=mode), path)


def _temporary_file(directory: Path, content: str, *, mode: int) -> str:
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(content)
    os.chmod(name, mode)
    return name


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def mint_token(
    private_pem: str,
    *,
    sub: str,
    roles: Iterable[str],
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    ttl_s: int = 3600,
    kid: str | None = None,
    **claims: Any,
) -> str:
    """A signed token for tests and local use: RS256 for an RSA key, ES256 for an EC P-256 key.

    Extra keyword arguments become claims (`siret=…`, `siren=…`); those set to None are left out.
    """
    key = _private_key(private_pem)
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ES256"
    else:
        raise ValueError("dev tokens are signed with an RSA or EC P-256 private key")
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": sub,
        "roles": sorted(set(roles)),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    payload.update({name: value for name, value in claims.items() if value is not None})
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


@functools.lru_cache(maxsize=16)
def _private_key(private_pem: str) -> PrivateKeyTypes:
    """The parsed key, once per PEM: loading checks the RSA key's consistency (~50 ms), signing takes ~1 ms,
    and test suites and benchmarks mint thousands of tokens with the same few keys."""
    return serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.devtokens",
        description="Print a bearer token signed with the local development key.",
    )
    parser.add_argument(
        "--role", action="append", required=True, choices=[role.value for role in Role], help="repeatable"
    )
    parser.add_argument("--sub", help="subject; the elu_id for an élu (default: a new UUID for an élu)")
    parser.add_argument("--siret", help="SIRET claim, for an organisme")
    parser.add_argument("--siren", help="SIREN claim, for a collectivité")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    parser.add_argument("--issuer", default=DEV_ISSUER)
    parser.add_argument("--audience", default=DEV_AUDIENCE)
    parser.add_argument("--keys-dir", type=Path, help="default: <repo>/.local/keys")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    sub = args.sub or (str(uuid.uuid4()) if Role.ELU in args.role else f"dev-{args.role[0]}")
    private_pem, _ = ensure_dev_keypair(args.keys_dir)
    token = mint_token(
        private_pem,
        sub=sub,
        roles=args.role,
        issuer=args.issuer,
        audience=args.audience,
        ttl_s=args.ttl,
        siret=args.siret,
        siren=args.siren,
    )
    sys.stdout.write(token + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
