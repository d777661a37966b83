"""The payroll CSV, the collectivités CSV and camt.053 readers (no I/O beyond bytes)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from contributions.adapters.camt053 import parse_camt053
from contributions.adapters.csv_files import parse_collectivites_csv, parse_declaration_csv
from contributions.domain.collectivites import CollectiviteType
from contributions.domain.matching import BankCredit, MatchedBy, match_credit
from contributions.domain.periods import ContributionPeriod, creditor_reference
from contributions.domain.settlement import PeriodAccount
from servicekit.rules import RuleBroken, RulesBroken

SIREN = "217500016"


def test_payroll_csv_lines_with_french_dates_and_semicolons_R_CON_2() -> None:
    content = (
        "\ufeffnom;prenoms;date_naissance;elu_id;mois;indemnite_brute_cents\r\n"
        "DUPONT;Marie;02/05/1970;;2026-03;123456\r\n"
        "\r\n"
        ";;;6f1c1b9e-8a57-4d33-9a53-8f3a6c1e2b10;03/2026;50\r\n"
    ).encode()
    parsed = parse_declaration_csv(content)
    assert parsed.problems == []
    first, second = parsed.lines
    assert (first.number, first.birth_date, first.month, first.gross_allowance_cents) == (
        2,
        date(1970, 5, 2),
        date(2026, 3, 1),
        123_456,
    )
    assert second.number == 4 and second.elu_id == uuid.UUID("6f1c1b9e-8a57-4d33-9a53-8f3a6c1e2b10")


def test_payroll_csv_in_english_with_commas_and_latin_1() -> None:
    content = (
        "family_name,given_names,birth_date,month,gross_allowance_cents\nLEFÈVRE,Zoé,1970-05-02,2026-03,100\n"
    )
    parsed = parse_declaration_csv(content.encode("latin-1"))
    assert parsed.problems == [] and parsed.lines[0].family_name == "LEFÈVRE"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("A;B;01/01/1970;;2026-03;12.50", "not a whole number of cents"),
        ("A;B;01/01/1970;;2026-03;-5", "not a whole number of cents"),
        ("A;B;01/01/1970;;2026-03;" + "9" * 30, "not a whole number of cents"),
        ("A;B;31/02/1970;;2026-03;100", "birth date"),
        ("A;B;01/01/1970;;2026-13;100", "month"),
        ("A;B;01/01/1970;not-a-uuid;2026-03;100", "elu_id"),
        ("A;B;01/01/1970;;2026-03", "cells where the header has"),
        ("A\x00;B;01/01/1970;;2026-03;100", "NUL"),
    ],
)
def test_each_bad_payroll_line_is_reported_with_its_number_R_CON_2(row: str, reason: str) -> None:
    content = f"nom;prenoms;date_naissance;elu_id;mois;indemnite_brute_cents\n{row}\n".encode()
    parsed = parse_declaration_csv(content)
    assert parsed.lines == []
    assert parsed.problems[0].number == 2 and reason in parsed.problems[0].reason


def test_a_payroll_csv_without_its_columns_is_refused_R_CON_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        parse_declaration_csv(b"nom;prenoms\nA;B\n")
    assert refused.value.field == "header" and "mois" in refused.value.message
    with pytest.raises(RuleBroken):
        parse_declaration_csv(b"")


def test_collectivites_csv_loads_good_rows_and_reports_bad_ones_R_CON_1() -> None:
    content = (
        "siren;nom;type;cotisation_annuelle_cents\n"
        f"{SIREN};Paris;commune;400000\n"
        "217500017;Mauvais;commune;\n"
        "200054781;Syndicat des eaux;syndicat;\n"
        "200054781;X;club;\n"
    ).encode()
    parsed = parse_collectivites_csv(content, date(2026, 1, 1))
    assert [(c.siren, c.type, c.reference_annual_cents) for c in parsed.collectivites] == [
        (SIREN, CollectiviteType.COMMUNE, 400_000),
        ("200054781", CollectiviteType.SYNDICAT, None),
    ]
    assert [(p.number, p.reason[:5]) for p in parsed.problems] == [(3, "SIREN"), (5, "type ")]


def statement(entries: str, namespace: str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02") -> bytes:
    return (
        f'<Document xmlns="{namespace}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr>'
        f"<Stmt><Id>S1</Id>{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def entry(amount: str = "10.00", *, ccy: str = "EUR", sign: str = "CRDT", extra: str = "") -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-04-10</Dt></BookgDt>{extra}</Ntry>"
    )


def test_camt053_credits_with_batched_transactions_R_CON_4() -> None:
    batch = (
        "<NtryDtls>"
        '<TxDtls><Refs><AcctSvcrRef>T1</AcctSvcrRef></Refs><Amt Ccy="EUR">3.00</Amt>'
        "<RmtInf><Ustrd>one</Ustrd></RmtInf></TxDtls>"
        '<TxDtls><Refs><AcctSvcrRef>T2</AcctSvcrRef></Refs><Amt Ccy="EUR">7</Amt>'
        "<RmtInf><Strd><CdtrRefInf><Ref>RF18</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>"
        "</NtryDtls>"
    )
    parsed = parse_camt053(statement(entry("10.00", extra=batch) + entry("1.5") + entry("2.00", sign="DBIT")))
    assert parsed.key == "M1/S1"
    assert [(c.entry_key, c.amount_cents, c.remittance, c.reference) for c in parsed.credits] == [
        ("S1/T1", 300, "one", None),
        ("S1/T2", 700, "", "RF18"),
        ("S1/#2", 150, "", None),
    ]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (statement(entry("10,00")), "Stmt[1]/Ntry[1]/Amt"),
        (statement(entry("0.00")), "Stmt[1]/Ntry[1]/Amt"),
        (statement(entry("1.234")), "Stmt[1]/Ntry[1]/Amt"),
        (statement(entry(ccy="USD")), "Stmt[1]/Ntry[1]/Amt"),
        (statement(entry(sign="CREDIT")), "Stmt[1]/Ntry[1]/CdtDbtInd"),
        (statement(entry().replace("<BookgDt><Dt>2026-04-10</Dt></BookgDt>", "")), "Stmt[1]/Ntry[1]/BookgDt"),
        (statement(entry(), namespace="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"), "Document"),
        (b"<Document", "Document"),
        (statement(entry()).replace(b"<Id>S1</Id>", b""), "Stmt[1]/Id"),
        (statement(entry(extra="<AcctSvcrRef>X</AcctSvcrRef>") * 2), "Ntry S1/X"),
    ],
)
def test_a_malformed_camt053_names_the_element_R_CON_4(content: bytes, field: str) -> None:
    with pytest.raises((RuleBroken, RulesBroken)) as refused:
        parse_camt053(content)
    error = refused.value
    broken = error.broken if isinstance(error, RulesBroken) else [error]
    assert broken[0].rule_id == "R-CON-4" and broken[0].field == field


def credit(amount: int, *, reference: str | None = None, remittance: str = "") -> BankCredit:
    return BankCredit(uuid.uuid4(), "k", amount, date(2026, 4, 10), reference, remittance, None)


MARCH = ContributionPeriod.parse("2026-03")


def test_a_credit_quoting_the_rf_reference_matches_its_period_even_spaced_in_free_text_R_CON_4() -> None:
    reference = creditor_reference(SIREN, MARCH)
    spaced = " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
    for found in (credit(5, reference=reference), credit(5, remittance=f"cotisation {spaced} merci")):
        match = match_credit(found, frozenset({SIREN}), {})
        assert (match.siren, match.period, match.matched_by) == (SIREN, MARCH, MatchedBy.REFERENCE)


def test_a_credit_with_a_siren_and_the_outstanding_amount_matches_the_oldest_period_R_CON_4() -> None:
    feb = PeriodAccount(SIREN, ContributionPeriod.parse("2026-02"), date(2026, 3, 15), declared_cents=500)
    march = PeriodAccount(SIREN, MARCH, date(2026, 4, 15), declared_cents=500)
    match = match_credit(credit(500, remittance=f"SIREN {SIREN}"), frozenset({SIREN}), {SIREN: [march, feb]})
    assert (match.period, match.matched_by) == (feb.period, MatchedBy.SIREN_AND_AMOUNT)
    other = match_credit(credit(499, remittance=f"SIREN {SIREN}"), frozenset({SIREN}), {SIREN: [march, feb]})
    assert not other.matched and other.siren == SIREN
    unknown = match_credit(credit(500, remittance="SIREN 200054781"), frozenset({SIREN}), {})
    assert not unknown.matched and unknown.siren is None
