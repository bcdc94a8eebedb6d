"""Reads of ERP routing: which ERP instance owns a legal entity's books.

A firm with one ERP configures nothing: every legal entity goes to it. A firm with one
ERP per region routes each legal entity to its instance (``ErpRoute``); while several
ERPs are connected, a legal entity with no route waits as an ``erp_not_routed``
exception, which clears when the route is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from canonical.errors import ConflictError
from integrations.choices import ErrorClass, ExceptionType, SystemKind
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem, ErpRoute


def erp_route_list() -> QuerySet[ErpRoute]:
    return ErpRoute.objects.select_related("legal_entity", "system").order_by("legal_entity__code")


def erp_route_waiting_key(legal_entity_code: str) -> str:
    """The ``waiting_on`` key of work that waits for a legal entity's route."""
    return f"erp_route:{legal_entity_code.strip().upper()}"


def erp_systems() -> QuerySet[ConnectedSystem]:
    """The enabled ERP instances the tower can write to."""
    return (
        ConnectedSystem.objects.filter(kind=SystemKind.ERP, enabled=True)
        .exclude(base_url="")
        .order_by("slug")
    )


def erp_for(legal_entity_code: str) -> ConnectedSystem:
    """The ERP instance that owns ``legal_entity_code``: its route's, or the only ERP.

    With no route and several ERPs the work waits for a route (a business exception
    naming the legal entity); with no ERP at all, for one to be configured.
    """
    route = (
        ErpRoute.objects.select_related("system")
        .filter(legal_entity__code=legal_entity_code)
        .first()
    )
    if route is not None:
        system = route.system
        if not system.enabled or not system.base_url:
            raise IntegrationError(
                f"{system.name}, the ERP that owns legal entity {legal_entity_code}, is "
                f"{'disabled' if not system.enabled else 'without a base URL'}.",
                transient=False,
                error_class=ErrorClass.CONFIGURATION,
                code=ExceptionType.SYSTEM_NOT_CONFIGURED,
                waiting_on=f"system:{system.slug.upper()}",
            )
        return system
    erps = list(erp_systems()[:2])
    if len(erps) == 1:
        return erps[0]
    if not erps:
        raise IntegrationError(
            "No enabled erp system with a base URL is connected.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            waiting_on="system:ERP",
        )
    raise IntegrationError.business(
        f"Several ERPs are connected and none owns legal entity {legal_entity_code}; "
        "route it to its ERP.",
        code=ExceptionType.ERP_NOT_ROUTED,
        waiting_on=erp_route_waiting_key(legal_entity_code),
        details={"legal_entity": legal_entity_code},
    )


def erp_for_or_none(legal_entity_code: str) -> ConnectedSystem | None:
    """``erp_for``, or None where no ERP owns the legal entity yet (for pages)."""
    try:
        return erp_for(legal_entity_code)
    except IntegrationError:
        return None


def erp_owner_check(*, system: ConnectedSystem, legal_entity_code: str, what: str) -> None:
    """Refuses to write ``what`` to an ERP instance that does not own its legal entity."""
    if system.kind != SystemKind.ERP:
        return
    owner = erp_for_or_none(legal_entity_code)
    if owner is not None and owner.pk == system.pk:
        return
    owned_by = (
        f"its books are kept in {owner.name} ({owner.slug})"
        if owner is not None
        else "no ERP owns it yet"
    )
    raise ConflictError(
        f"{system.name} does not own legal entity {legal_entity_code}: {owned_by}; "
        f"{what} is not written there.",
        errors={"system": [f"{system.slug} does not own {legal_entity_code}."]},
    )


def erp_owned_codes() -> dict[int, list[str]]:
    """The legal entity codes each ERP is routed, by system id (for the Systems page)."""
    owned: dict[int, list[str]] = {}
    for system_id, code in erp_route_list().values_list("system_id", "legal_entity__code"):
        owned.setdefault(system_id, []).append(code)
    return owned


def erp_ownership(systems: Iterable[ConnectedSystem] | None = None) -> dict[int, str]:
    """What each ERP instance owns, in words, by system id (for the Systems page);
    ``systems`` are the connected systems when the caller has them already."""
    owned = erp_owned_codes()
    if systems is None:
        systems = ConnectedSystem.objects.filter(kind=SystemKind.ERP)
    erps = [system for system in systems if system.kind == SystemKind.ERP]
    only = len([erp for erp in erps if erp.enabled and erp.base_url]) == 1
    words = {}
    for erp in erps:
        if owned.get(erp.pk):
            rest = " and every legal entity not routed" if only and erp.enabled else ""
            words[erp.pk] = f"Owns {', '.join(owned[erp.pk])}{rest}"
        elif only and erp.enabled and erp.base_url:
            words[erp.pk] = "Owns every legal entity (the only ERP)"
        else:
            words[erp.pk] = "Owns no legal entity yet"
    return words


@dataclass(frozen=True)
class ErpRouteInfo:
    """Where a record's legal entity keeps its books: the ERP, and why that one."""

    legal_entity: str
    system: ConnectedSystem | None
    routed: bool  # by a route; otherwise the only ERP, or none

    @property
    def text(self) -> str:
        if self.system is None:
            return f"No ERP owns {self.legal_entity} yet: route it to its ERP."
        why = f"routes {self.legal_entity}" if self.routed else f"the only ERP; {self.legal_entity}"
        return f"ERP: {self.system.name} ({why})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "legal_entity": self.legal_entity,
            "system": self.system.slug if self.system is not None else None,
            "routed": self.routed,
            "text": self.text,
        }


def legal_entity_code_of(record: Any) -> str:
    """The code of the legal entity whose books hold ``record`` (its own, or its project's);
    empty for a record of no legal entity."""
    for owner in (record, getattr(record, "project", None)):
        legal_entity = getattr(owner, "legal_entity", None) if owner is not None else None
        if legal_entity is not None:
            return legal_entity.code
    return ""


def erp_route_of(record: Any) -> ErpRouteInfo | None:
    """The ERP that owns ``record``'s legal entity, for the record page and the lineage."""
    code = legal_entity_code_of(record)
    if not code:
        return None
    route = ErpRoute.objects.select_related("system").filter(legal_entity__code=code).first()
    if route is not None:
        return ErpRouteInfo(code, route.system, routed=True)
    erps = list(erp_systems()[:2])  # with no route, the only ERP owns every legal entity
    return ErpRouteInfo(code, erps[0] if len(erps) == 1 else None, routed=False)
