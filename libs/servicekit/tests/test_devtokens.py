from __future__ import annotations

import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from servicekit.auth import TokenVerifier
from servicekit.devtokens import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    ensure_dev_keypair,
    find_repo_root,
    main,
    mint_token,
)


def dev_verifier(public_pem: str) -> TokenVerifier:
    return TokenVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_pem=public_pem)


def test_key_pair_is_created_once_and_reused(tmp_path: Path) -> None:
    first = ensure_dev_keypair(tmp_path / "keys")
    second = ensure_dev_keypair(tmp_path / "keys")

    assert first == second
    assert (tmp_path / "keys" / PUBLIC_KEY_FILE).read_text() == first[1]
    assert "PRIVATE KEY" in first[0]


def test_private_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    ensure_dev_keypair(tmp_path)

    mode = stat.S_IMODE((tmp_path / PRIVATE_KEY_FILE).stat().st_mode)

    assert mode == 0o600


def test_services_starting_together_share_one_key_pair(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        pairs = set(pool.map(lambda _: ensure_dev_keypair(tmp_path), range(6)))

    assert len(pairs) == 1
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".tmp-")] == []


async def test_minted_token_is_accepted_by_a_verifier_with_the_public_key(tmp_path: Path) -> None:
    private_pem, public_pem = ensure_dev_keypair(tmp_path)
    token = mint_token(private_pem, sub="of-1", roles=["organisme"], siret="12345678900011", siren=None)

    principal = await dev_verifier(public_pem).verify(token)

    assert principal.sub == "of-1"
    assert principal.roles == frozenset({"organisme"})
    assert principal.siret == "12345678900011"
    assert "siren" not in principal.claims
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_minted_token_carries_kid_and_expiry(tmp_path: Path) -> None:
    private_pem, _ = ensure_dev_keypair(tmp_path)

    token = mint_token(private_pem, sub="a", roles=["ops", "agent", "ops"], ttl_s=60, kid="dev")

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == ["agent", "ops"]
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(token)["kid"] == "dev"


def test_repo_root_is_the_uv_workspace_or_git_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["libs/*"]\n')
    service = tmp_path / "services" / "catalogue"
    service.mkdir(parents=True)
    (service / "pyproject.toml").write_text('[project]\nname = "catalogue"\n')

    assert find_repo_root(service) == tmp_path


def test_repo_root_found_by_git_directory(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)

    assert find_repo_root(nested) == tmp_path


async def test_command_prints_a_token_for_the_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(["--role", "elu", "--keys-dir", str(tmp_path), "--ttl", "120"])

    token = capsys.readouterr().out.strip()
    assert exit_code == 0
    _, public_pem = ensure_dev_keypair(tmp_path)
    principal = await dev_verifier(public_pem).verify(token)
    assert principal.roles == frozenset({"elu"})
    assert uuid.UUID(principal.sub)


async def test_command_accepts_several_roles_and_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "--role",
            "collectivite",
            "--role",
            "agent",
            "--siren",
            "123456789",
            "--sub",
            "c-1",
            "--keys-dir",
            str(tmp_path),
        ]
    )

    token = capsys.readouterr().out.strip()
    _, public_pem = ensure_dev_keypair(tmp_path)
    principal = await dev_verifier(public_pem).verify(token)
    assert principal.sub == "c-1"
    assert principal.roles == frozenset({"collectivite", "agent"})
    assert principal.siren == "123456789"


def test_command_refuses_an_unknown_role(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--role", "admin", "--keys-dir", str(tmp_path)])
