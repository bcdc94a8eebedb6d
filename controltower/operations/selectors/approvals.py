"""Reads behind the approvals inbox: invoice candidates with their lines, and the diff an
amendment conflict or an edited replay asks a second person to approve."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from canonical.choices import BillingModel, InvoiceStatus
from canonical.models import (
    Contract,
    ContractVersion,
    Invoice,
    InvoiceLine,
)
from controltower.operations.models import BusinessException
from controltower.operations.selectors.data_access import record_mask
from integrations.flows.contract_to_project import terms_from
from integrations.models import Transaction


@dataclass(frozen=True)
class DiffRow:
    """One compared value: its label, before and after, and whether it changed (said by
    ``differs`` when before and after are shown masked)."""

    label: str
    before: Any
    after: Any
    differs: bool | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after if self.differs is None else self.differs

    @property
    def kind(self) -> str:
        if self.before in (None, "") and self.after not in (None, ""):
            return "added"
        if self.after in (None, "") and self.before not in (None, ""):
            return "removed"
        return "changed" if self.changed else "same"


def _money_text(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def _billing_model(value: Any) -> str:
    return str(dict(BillingModel.choices).get(value, value or ""))


def contract_terms_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[DiffRow]:
    """The terms an amendment changes: rates per role, dates, cap, rate card, milestones."""
    before = before or {}
    rows = [
        DiffRow("Rate card", before.get("rate_card", ""), after.get("rate_card", "")),
        DiffRow(
            "Billing model",
            _billing_model(before.get("billing_model")),
            _billing_model(after.get("billing_model")),
        ),
        DiffRow("Start date", before.get("start_date") or "", after.get("start_date") or ""),
        DiffRow("End date", before.get("end_date") or "", after.get("end_date") or ""),
        DiffRow("Cap", _money_text(before.get("cap_amount")), _money_text(after.get("cap_amount"))),
    ]
    old_rates, new_rates = before.get("rates") or {}, after.get("rates") or {}
    for role in sorted({*old_rates, *new_rates}):
        rows.append(
            DiffRow(
                f"Rate: {role}",
                _money_text(old_rates.get(role)),
                _money_text(new_rates.get(role)),
            )
        )

    def milestones(terms: dict[str, Any]) -> dict[str, str]:
        return {
            str(m.get("code")): f"{m.get('name', '')} {_money_text(m.get('amount'))}"
            + (f" due {m['due_date']}" if m.get("due_date") else "")
            for m in terms.get("milestones") or []
        }

    old_ms, new_ms = milestones(before), milestones(after)
    for code in sorted({*old_ms, *new_ms}):
        rows.append(DiffRow(f"Milestone {code}", old_ms.get(code, ""), new_ms.get(code, "")))
    return rows


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out or {prefix: []}
    return {prefix: value}


_ABSENT = object()


def _json_text(value: Any) -> str:
    """A payload's value as its JSON spells it (``false``, ``0``, ``null``), or "" where the
    field is absent: a person compares what was sent, not Python's spelling of it."""
    if value is _ABSENT:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _sent(value: Any) -> str:
    return "" if value is _ABSENT else json.dumps(value, sort_keys=True)


def payload_diff(before: Any, after: Any) -> list[DiffRow]:
    """The fields an edited payload changes, by path (``data.lines[0].hours``)."""
    old, new = _flatten(before or {}), _flatten(after or {})
    rows = []
    for path in [*new, *(p for p in old if p not in new)]:
        a, b = old.get(path, _ABSENT), new.get(path, _ABSENT)
        # Compared as JSON: 1 and true, 0 and false, "6" and 6 are different payloads.
        if _sent(a) != _sent(b):
            shown_a, shown_b = _json_text(a), _json_text(b)
            if shown_a == shown_b:  # "6" and 6: shown as JSON, quotes and all
                shown_a, shown_b = _sent(a), _sent(b)
            rows.append(DiffRow(path, shown_a, shown_b, differs=True))
    return rows


def amendment_conflict_views(
    exceptions: list[BusinessException], *, user: Any
) -> dict[int, dict[str, Any]]:
    """Per amendment conflict: the contract's terms in force against the amendment held back,
    with the rates and amounts ``user`` may not see masked (what changed is still said).

    Three queries for a whole page: the contracts, their versions, the held amendments.
    """
    numbers = {(e.details or {}).get("contract", "") for e in exceptions} - {""}
    contracts = {c.number: c for c in Contract.objects.filter(number__in=numbers)}
    current: dict[int, Any] = {}
    for version in ContractVersion.objects.filter(contract__in=contracts.values()).order_by(
        "version"
    ):
        current[version.contract_id] = version  # the last one wins: the version in force
    held: dict[int, Transaction] = {}
    for tx in Transaction.objects.filter(
        exception__in=exceptions, event_type="contract.amended"
    ).order_by("pk"):
        held[tx.exception_id] = tx
    views = {}
    for exc in exceptions:
        contract = contracts.get((exc.details or {}).get("contract", ""))
        version = current.get(contract.pk) if contract else None
        tx = held.get(exc.pk)
        data = ((tx.normalized or {}).get("data") or {}) if tx else {}
        proposed: dict[str, Any] | None = None
        if data:
            try:
                proposed = terms_from(data).snapshot()
            except (KeyError, TypeError, ValueError, ArithmeticError):
                proposed = None
        views[exc.pk] = {
            "contract": contract,
            "current": version,
            "held": tx,
            "effective_date": data.get("effective_date"),
            "proposed_version": tx.event_version if tx else None,
            "rows": _terms_diff_for(user, version.terms if version else None, proposed)
            if proposed is not None
            else [],
        }
    return views


def amendment_conflict_view(exc: BusinessException, *, user: Any) -> dict[str, Any]:
    return amendment_conflict_views([exc], user=user)[exc.pk]


def _terms_diff_for(
    user: Any, before: dict[str, Any] | None, after: dict[str, Any]
) -> list[DiffRow]:
    """``contract_terms_diff`` as ``user`` may read it: both sides masked, the change told."""

    def masked(terms: dict[str, Any] | None) -> dict[str, Any] | None:
        if terms is None:
            return None
        return record_mask({"terms": terms}, model=ContractVersion, user=user)["terms"]

    real = contract_terms_diff(before, after)
    shown = contract_terms_diff(masked(before), masked(after) or {})
    return [
        DiffRow(row.label, row.before, row.after, differs=truth.changed)
        for row, truth in zip(shown, real, strict=True)
    ]


def edited_replay_views(exceptions: list[BusinessException]) -> dict[int, dict[str, Any]]:
    """Per edited replay: the original event against the edited one, in one query for a page."""
    ids = set()
    for exc in exceptions:
        details = exc.details or {}
        ids.update(pk for pk in (details.get("original"), details.get("replay")) if pk)
    found = {tx.pk: tx for tx in Transaction.objects.filter(pk__in=ids).select_related("flow")}
    views = {}
    for exc in exceptions:
        details = exc.details or {}
        original, replay = found.get(details.get("original")), found.get(details.get("replay"))
        views[exc.pk] = {
            "original": original,
            "replay": replay,
            "reason": details.get("reason", ""),
            "rows": payload_diff(
                original.normalized if original else None, replay.normalized if replay else None
            ),
        }
    return views


def edited_replay_view(exc: BusinessException) -> dict[str, Any]:
    return edited_replay_views([exc])[exc.pk]


def invoice_candidates() -> QuerySet[Invoice]:
    """Invoice candidates and those awaiting approval, with their customer, project, preparer."""
    return Invoice.objects.filter(
        status__in=(InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)
    ).select_related("customer", "project", "legal_entity", "prepared_by")


def invoice_lines_attach(invoices: list[Invoice]) -> None:
    """Fetches the lines of a page of invoices in one query, with hours and totals per invoice."""
    lines = InvoiceLine.objects.filter(invoice__in=invoices).select_related(
        "time_entry__resource", "milestone"
    )
    by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_id].append(line)
    for invoice in invoices:
        invoice.shown_lines = by_invoice.get(invoice.pk, [])
        invoice.hours = sum(
            (line.quantity for line in invoice.shown_lines if line.time_entry_id), Decimal("0")
        )
        invoice.lines_total = sum((line.amount for line in invoice.shown_lines), Decimal("0"))
