"""Reading the fund's bank statement, ISO 20022 camt.053 (BankToCustomerStatement), with lxml.

Only booked credits in euros are kept (debits and reversals are not contributions). Any element that is
missing or malformed refuses the whole file, naming the element (e.g. `Stmt[1]/Ntry[3]/Amt`): nothing of a
file we cannot read completely is recorded. The parser resolves no entity, loads no DTD and reaches no
network (XXE, billion laughs).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

from lxml import etree
from servicekit.rules import Checks, RuleBroken

from contributions.domain.matching import BankCredit

CAMT053_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
RULE = "R-CON-4"
MAX_TEXT = 500
_AMOUNT = re.compile(r"(\d{1,13})(?:\.(\d{1,2}))?")


@dataclass(frozen=True, slots=True)
class BankStatement:
    """The statement's identity (message id and statement ids) and its booked credits."""

    key: str
    credits: list[BankCredit]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


class _Reader:
    """Finds elements by local path in the document's camt.053 namespace and records what is wrong."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.checks = Checks()
        self._qualified: dict[str, str] = {}

    def _q(self, path: str) -> str:
        """`Ntry/Amt` in the document's namespace (computed once per path: a statement has 10,000 entries)."""
        found = self._qualified.get(path)
        if found is None:
            found = self._qualified[path] = "/".join(f"{{{self.ns}}}{part}" for part in path.split("/"))
        return found

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return list(element.iterfind(self._q(path)))

    def text(self, element: etree._Element, path: str) -> str | None:
        found = element.find(self._q(path))
        if found is None or found.text is None:
            return None
        return found.text.strip()[:MAX_TEXT]

    def required(self, element: etree._Element, path: str, where: str) -> str | None:
        value = self.text(element, path)
        if not value:
            self.checks.fail(
                RULE, f"camt.053: element {where}/{path} is missing or empty", field=f"{where}/{path}"
            )
        return value

    def fail(self, where: str, message: str) -> None:
        self.checks.fail(RULE, f"camt.053: element {where}: {message}", field=where)


def _cents(text: str) -> int | None:
    found = _AMOUNT.fullmatch(text)
    if found is None:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def _booking_date(reader: _Reader, entry: etree._Element, where: str) -> date | None:
    raw = reader.text(entry, "BookgDt/Dt") or (reader.text(entry, "BookgDt/DtTm") or "")[:10]
    try:
        return date.fromisoformat(raw)
    except ValueError:
        reader.fail(f"{where}/BookgDt", "a booking date Dt (AAAA-MM-JJ) or DtTm is required")
        return None


def _is_booked(reader: _Reader, entry: etree._Element) -> bool:
    status = reader.text(entry, "Sts/Cd") or reader.text(entry, "Sts") or ""
    return status.upper() == "BOOK"


def _amount(reader: _Reader, element: etree._Element, path: str, where: str) -> int | None:
    amount = element.find(reader._q(path))
    if amount is None or amount.text is None:
        reader.fail(f"{where}/{path}", "the amount is missing")
        return None
    if amount.get("Ccy") != "EUR":
        reader.fail(f"{where}/{path}", f"currency {str(amount.get('Ccy'))[:5]!r} is not EUR")
        return None
    cents = _cents(amount.text.strip())
    if cents is None or cents == 0:
        reader.fail(f"{where}/{path}", "the amount is not a positive decimal with at most 2 decimals")
        return None
    return cents


def _transaction_fields(reader: _Reader, tx: etree._Element | None) -> tuple[str | None, str, str | None]:
    if tx is None:
        return None, "", None
    reference = reader.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    remittance = " ".join(text for text in (r.text for r in reader.all(tx, "RmtInf/Ustrd")) if text)[
        :MAX_TEXT
    ]
    debtor = reader.text(tx, "RltdPties/Dbtr/Nm") or reader.text(tx, "RltdPties/Dbtr/Pty/Nm")
    return reference, remittance, debtor


def _entry_credits(
    reader: _Reader, entry: etree._Element, where: str, statement_id: str, position: int
) -> list[BankCredit]:
    indicator = reader.required(entry, "CdtDbtInd", where)
    if indicator not in ("CRDT", "DBIT"):
        if indicator is not None:
            reader.fail(f"{where}/CdtDbtInd", "must be CRDT or DBIT")
        return []
    if reader.text(entry, "RvslInd") == "true":
        return []
    booked_on = _booking_date(reader, entry, where)
    amount = _amount(reader, entry, "Amt", where)
    if indicator == "DBIT" or not _is_booked(reader, entry) or booked_on is None or amount is None:
        return []
    entry_ref = reader.text(entry, "AcctSvcrRef") or reader.text(entry, "NtryRef") or f"#{position}"
    transactions = reader.all(entry, "NtryDtls/TxDtls")
    if len(transactions) <= 1:
        reference, remittance, debtor = _transaction_fields(reader, transactions[0] if transactions else None)
        key = f"{statement_id}/{entry_ref}"
        return [BankCredit(uuid.uuid4(), key, amount, booked_on, reference, remittance, debtor)]
    credits = []
    for index, tx in enumerate(transactions, start=1):
        tx_where = f"{where}/NtryDtls/TxDtls[{index}]"
        path = "AmtDtls/TxAmt/Amt" if tx.find(reader._q("AmtDtls/TxAmt/Amt")) is not None else "Amt"
        tx_amount = _amount(reader, tx, path, tx_where)
        if tx_amount is None:
            continue
        reference, remittance, debtor = _transaction_fields(reader, tx)
        tx_ref = reader.text(tx, "Refs/AcctSvcrRef") or f"{entry_ref}#{index}"
        key = f"{statement_id}/{tx_ref}"
        credits.append(BankCredit(uuid.uuid4(), key, tx_amount, booked_on, reference, remittance, debtor))
    return credits


def _refuse_repeated_entries(reader: _Reader, credits: list[BankCredit]) -> None:
    """Each credit's bank reference is unique in a statement: a repeated one would be recorded once only."""
    seen: set[str] = set()
    for credit in credits:
        if credit.entry_key in seen:
            reader.fail(
                f"Ntry {credit.entry_key}", "this bank reference (AcctSvcrRef) appears twice in the file"
            )
        seen.add(credit.entry_key)


def parse_camt053(content: bytes) -> BankStatement:
    """The booked euro credits of a camt.053 file; `RulesBroken` (R-CON-4) naming each bad element."""
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as error:
        raise RuleBroken(
            RULE, f"camt.053: the file is not well-formed XML ({error})", field="Document"
        ) from error
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not namespace.startswith(CAMT053_NAMESPACE_PREFIX):
        raise RuleBroken(
            RULE,
            f"camt.053: the root element must be Document in a {CAMT053_NAMESPACE_PREFIX}* namespace",
            field="Document",
        )
    reader = _Reader(namespace)
    message = root.find(reader._q("BkToCstmrStmt"))
    if message is None:
        raise RuleBroken(RULE, "camt.053: element Document/BkToCstmrStmt is missing", field="BkToCstmrStmt")
    message_id = reader.required(message, "GrpHdr/MsgId", "BkToCstmrStmt")
    statements = reader.all(message, "Stmt")
    if not statements:
        reader.fail("BkToCstmrStmt/Stmt", "no statement in the file")
    credits: list[BankCredit] = []
    statement_ids: list[str] = []
    for s_index, statement in enumerate(statements, start=1):
        s_where = f"Stmt[{s_index}]"
        statement_id = reader.required(statement, "Id", s_where) or ""
        statement_ids.append(statement_id)
        for e_index, entry in enumerate(reader.all(statement, "Ntry"), start=1):
            credits.extend(_entry_credits(reader, entry, f"{s_where}/Ntry[{e_index}]", statement_id, e_index))
    _refuse_repeated_entries(reader, credits)
    reader.checks.raise_if_any()
    return BankStatement(key=f"{message_id}/{'+'.join(statement_ids)}", credits=credits)
