"""Ownership routing: which team owns an exception. The most specific matching rule wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from controltower.operations.models import BusinessException, OwnershipRule, Team
from controltower.operations.services.audit import audit_record
from integrations.choices import OPEN_STATUSES


@dataclass(frozen=True)
class Subject:
    """What a rule looks at: an exception, or the flow of a transaction."""

    exception_type: str = ""
    flow: str = ""
    legal_entity_id: int | None = None
    customer_id: int | None = None

    @classmethod
    def of(cls, exc: BusinessException) -> Subject:
        return cls(exc.exception_type, exc.flow, exc.legal_entity_id, exc.customer_id)


def _matches(rule: OwnershipRule, subject: Subject) -> bool:
    return (
        (not rule.exception_type or rule.exception_type == subject.exception_type)
        and (not rule.flow or rule.flow == subject.flow)
        and (not rule.legal_entity_id or rule.legal_entity_id == subject.legal_entity_id)
        and (not rule.customer_id or rule.customer_id == subject.customer_id)
    )


def _rank(rule: OwnershipRule) -> tuple[int, int, int]:
    return (rule.specificity, rule.priority, -rule.pk if rule.pk else 0)


def winning_rule(subject: Subject, rules: Iterable[OwnershipRule]) -> OwnershipRule | None:
    """The most specific active rule matching ``subject``; ties go to priority, then age."""
    matching = [rule for rule in rules if rule.active and _matches(rule, subject)]
    return max(matching, key=_rank, default=None)


def active_rules() -> list[OwnershipRule]:
    return list(OwnershipRule.objects.filter(active=True).select_related("team"))


def default_team() -> Team | None:
    return Team.objects.filter(is_default=True).first()


def team_for(
    *,
    exception_type: str = "",
    flow: str = "",
    legal_entity_id: int | None = None,
    customer_id: int | None = None,
    rules: list[OwnershipRule] | None = None,
) -> Team | None:
    """The owning team for these facts: the winning rule's, else the default team."""
    subject = Subject(exception_type, flow, legal_entity_id, customer_id)
    rule = winning_rule(subject, active_rules() if rules is None else rules)
    return rule.team if rule else default_team()


def exception_route(*, exception: BusinessException) -> Team | None:
    """Sets the owning team of a new exception (not saved; the caller saves it)."""
    exception.team = team_for(**Subject.of(exception).__dict__)
    return exception.team


def _open() -> QuerySet[BusinessException]:
    return BusinessException.objects.filter(status__in=OPEN_STATUSES)


def rule_preview(*, rule: OwnershipRule, limit: int = 200) -> list[BusinessException]:
    """Open exceptions that would move to ``rule.team`` if ``rule`` were saved as it is.

    ``rule`` may be unsaved (a form being edited): it is weighed against the saved
    rules, in place of its saved self.
    """
    others = [r for r in active_rules() if r.pk != rule.pk]
    rules = [*others, rule] if rule.active else others
    fallback = default_team()
    candidates = _open().exclude(team_id=rule.team_id).select_related("team")
    if rule.exception_type:
        candidates = candidates.filter(exception_type=rule.exception_type)
    if rule.flow:
        candidates = candidates.filter(flow=rule.flow)
    if rule.legal_entity_id:
        candidates = candidates.filter(legal_entity_id=rule.legal_entity_id)
    if rule.customer_id:
        candidates = candidates.filter(customer_id=rule.customer_id)
    taken = []
    for exc in candidates.iterator(chunk_size=500):
        winner = winning_rule(Subject.of(exc), rules)
        if winner is rule or (winner is None and fallback and fallback.pk == rule.team_id):
            taken.append(exc)
            if len(taken) >= limit:
                break
    return taken


def exceptions_reroute(*, actor, reason: str = "") -> int:
    """Re-routes every open exception by the current rules, as an admin asked; returns moves.

    Changing a rule does not move open work by itself: people may be working it.
    """
    rules = active_rules()
    fallback = default_team()
    moved = 0
    with transaction.atomic():
        for exc in _open().select_for_update().iterator(chunk_size=500):
            rule = winning_rule(Subject.of(exc), rules)
            team = rule.team if rule else fallback
            team_id = team.pk if team else None
            if team_id == exc.team_id:
                continue
            before = exc.team_id
            exc.team_id = team_id
            exc.save(update_fields=["team", "updated_at"])
            audit_record(
                actor=actor,
                action="exception.reroute",
                obj=exc,
                before={"team": before},
                after={"team": team_id},
                reason=reason or "Re-routed by the ownership rules.",
            )
            moved += 1
    return moved
