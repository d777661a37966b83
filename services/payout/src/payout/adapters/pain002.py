"""Reading a bank's ISO 20022 pain.002 payment status report (any pain.002.001.xx version).

Elements are matched by local name, so a report in version 03 or 10 reads the same. The parser refuses
entities and network access: the file comes from outside.
"""

from __future__ import annotations

from lxml import etree
from servicekit.rules import RuleBroken

from payout.adapters.sepa import safe_parser
from payout.domain.batches import ReportedTransfer, StatusReport, transfer_status

MAX_REPORT_BYTES = 20 * 1024 * 1024


def _first(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path)
    if not found:
        return None
    value = found[0]
    return (value.text if hasattr(value, "text") else str(value) or "").strip() or None


def _local(*names: str) -> str:
    return "/".join(f"*[local-name()='{name}']" for name in names)


def parse_pain002(document: bytes) -> StatusReport:
    """The report's original message id, group status and each transfer's status and reason code."""
    if len(document) > MAX_REPORT_BYTES:
        raise RuleBroken("R-PAY-3", "the status report is larger than 20 MB", field="file")
    try:
        root = etree.fromstring(document, parser=safe_parser())
    except etree.XMLSyntaxError:
        raise RuleBroken("R-PAY-3", "the status report is not well-formed XML", field="file") from None
    reports = root.xpath(f"/*[local-name()='Document']/{_local('CstmrPmtStsRpt')}")
    if not reports or not str(etree.QName(root).namespace or "").startswith(
        "urn:iso:std:iso:20022:tech:xsd:pain.002."
    ):
        raise RuleBroken("R-PAY-3", "the file is not an ISO 20022 pain.002 status report", field="file")
    report = reports[0]
    group = report.xpath(_local("OrgnlGrpInfAndSts"))
    if not group:
        raise RuleBroken("R-PAY-3", "the status report names no original message", field="file")
    original_message_id = _first(group[0], _local("OrgnlMsgId"))
    if original_message_id is None:
        raise RuleBroken("R-PAY-3", "the status report names no original message", field="file")
    group_code = _first(group[0], _local("GrpSts"))
    transfers = []
    for tx in report.xpath(f"{_local('OrgnlPmtInfAndSts', 'TxInfAndSts')} | {_local('TxInfAndSts')}"):
        e2e = _first(tx, _local("OrgnlEndToEndId"))
        code = _first(tx, _local("TxSts"))
        if e2e is None or code is None:
            continue
        transfers.append(
            ReportedTransfer(
                end_to_end_id=e2e,
                status=transfer_status(code),
                reason_code=_first(tx, _local("StsRsnInf", "Rsn", "Cd")),
            )
        )
    return StatusReport(
        original_message_id=original_message_id,
        group_status=transfer_status(group_code) if group_code else None,
        group_reason_code=_first(group[0], _local("StsRsnInf", "Rsn", "Cd")),
        transfers=tuple(transfers),
    )
