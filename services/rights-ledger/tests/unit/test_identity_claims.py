"""R-ACT-1: the identity to match comes from the verified token's OpenID Connect claims."""

from datetime import date

import pytest
from rights_ledger.domain.identity import identity_from_claims
from servicekit.rules import RuleBroken, RulesBroken

CLAIMS = {"family_name": "DUPONT", "given_name": "Élise", "birthdate": "1961-03-05", "gender": "female"}


def test_the_claims_give_the_person_and_the_sex_R_ACT_1() -> None:
    identity = identity_from_claims(CLAIMS)
    assert (identity.person.family_name, identity.person.given_names, identity.birth_date, identity.sex) == (
        "DUPONT",
        "ELISE",
        date(1961, 3, 5),
        "F",
    )
    assert identity_from_claims(CLAIMS | {"gender": "unspecified"}).sex is None


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        ({k: v for k, v in CLAIMS.items() if k != "family_name"}, "token.family_name"),
        (CLAIMS | {"given_name": "  "}, "token.given_name"),
        (CLAIMS | {"given_name": "A\x00"}, "token.given_name"),
        (CLAIMS | {"birthdate": 0}, "token.birthdate"),
        (CLAIMS | {"birthdate": "05/03/1961"}, "token.birthdate"),
        (CLAIMS | {"birthdate": "1961-02-30"}, "token.birthdate"),
    ],
)
def test_a_token_without_a_usable_identity_is_refused_naming_the_claim_R_ACT_1(
    claims: dict[str, object], field: str
) -> None:
    with pytest.raises(RulesBroken) as refused:
        identity_from_claims(claims)
    assert [(r.rule_id, r.field) for r in refused.value.broken] == [("R-ACT-1", field)]


def test_all_the_given_names_of_the_provider_then_the_first_alone_are_tried_R_ACT_1() -> None:
    identity = identity_from_claims(CLAIMS | {"given_name": "Élise Marie-Thérèse"})
    assert [p.given_names for p in identity.persons()] == ["ELISE MARIE THERESE", "ELISE"]
    assert [p.given_names for p in identity_from_claims(CLAIMS).persons()] == ["ELISE"]


@pytest.mark.parametrize(("length", "usable"), [(200, True), (201, False)])
def test_a_name_claim_of_200_characters_is_usable_and_one_of_201_is_refused_R_ACT_1(
    length: int, usable: bool
) -> None:
    claims = CLAIMS | {"family_name": "A" * length}
    if usable:
        assert identity_from_claims(claims).family_name == "A" * length
        return
    with pytest.raises(RulesBroken) as refused:
        identity_from_claims(claims)
    assert refused.value.broken == [
        RuleBroken(
            "R-ACT-1", "the verified token has no usable 'family_name' claim", field="token.family_name"
        )
    ]


def test_every_unusable_claim_is_named_with_its_reason_at_once_R_ACT_1() -> None:
    """The problem lists each claim missing, in the claims' order, with the sentence an agent reads."""
    with pytest.raises(RulesBroken) as refused:
        identity_from_claims({"gender": "female"})
    assert refused.value.broken == [
        RuleBroken(
            "R-ACT-1", "the verified token has no usable 'family_name' claim", field="token.family_name"
        ),
        RuleBroken(
            "R-ACT-1", "the verified token has no usable 'given_name' claim", field="token.given_name"
        ),
        RuleBroken(
            "R-ACT-1", "the verified token has no 'birthdate' claim as YYYY-MM-DD", field="token.birthdate"
        ),
    ]


def test_the_names_are_kept_as_the_provider_gives_them_without_the_surrounding_spaces_R_ACT_1() -> None:
    identity = identity_from_claims(CLAIMS | {"family_name": "  de la Tour ", "given_name": " Élise "})
    assert (identity.family_name, identity.given_names) == ("de la Tour", "Élise")
    assert identity_from_claims(CLAIMS | {"gender": "Male"}).sex == "M"
    assert identity_from_claims({k: v for k, v in CLAIMS.items() if k != "gender"}).sex is None
