"""The R-DOS-5 exit policy and the provider's secrets come from one place: FUNDING_* settings."""

from __future__ import annotations

import pytest
from funding.domain.policy import CardOnConsumedExit, CofundingOnConsumedExit
from funding.settings import Settings

URL = "postgresql+asyncpg://u@localhost/funding"


def test_the_consumed_exit_policy_defaults_to_release_and_refund_R_DOS_5() -> None:
    policy = Settings(database_url=URL).consumed_exit_policy
    assert (policy.cofunding, policy.card) == (CofundingOnConsumedExit.RELEASE, CardOnConsumedExit.REFUND)


def test_the_consumed_exit_policy_is_set_by_environment_R_DOS_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNDING_CONSUMED_EXIT_POLICY__CARD", "keep")
    monkeypatch.setenv("FUNDING_CONSUMED_EXIT_POLICY__COFUNDING", "consume")
    policy = Settings(database_url=URL).consumed_exit_policy
    assert (policy.cofunding, policy.card) == (CofundingOnConsumedExit.CONSUME, CardOnConsumedExit.KEEP)


def test_two_psp_secrets_are_accepted_three_are_not_R_FUN_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNDING_PSP_SECRETS", '["new", "old"]')
    assert Settings(database_url=URL).psp_secret_values == ["new", "old"]
    monkeypatch.setenv("FUNDING_PSP_SECRETS", '["a", "b", "c"]')
    with pytest.raises(ValueError, match="at most two"):
        Settings(database_url=URL)


def test_production_needs_psp_secrets_R_FUN_4() -> None:
    with pytest.raises(ValueError, match="FUNDING_PSP_SECRETS"):
        Settings(database_url=URL, environment="prod", jwt_jwks_url="https://idp/jwks")
