"""Routing legal entities to ERP instances: set or removed by an admin, in the tower."""

from __future__ import annotations

from django.db import transaction

from canonical.errors import ApplicationError, NotFoundError
from canonical.models import LegalEntity
from integrations.choices import SystemKind
from integrations.models import ConnectedSystem, ErpRoute
from integrations.selectors.routing import erp_route_waiting_key
from integrations.services.exceptions import exceptions_clear


def erp_route_set(*, legal_entity_code: str, system_slug: str) -> tuple[ErpRoute, str]:
    """Routes a legal entity to an ERP instance; returns the route and the slug of the
    ERP it was routed to before (empty for a new route).

    The work that waited for the route (``erp_not_routed``) runs again at once.
    """
    legal_entity = LegalEntity.objects.filter(code=legal_entity_code).first()
    if legal_entity is None:
        raise NotFoundError(
            f"There is no legal entity {legal_entity_code!r}.",
            errors={"legal_entity": ["Unknown legal entity."]},
        )
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None or system.kind != SystemKind.ERP:
        raise ApplicationError(
            f"{system_slug!r} is not an ERP; a legal entity is routed to an ERP.",
            errors={"system": ["Not an ERP."]},
        )
    with transaction.atomic():
        route = (
            ErpRoute.objects.select_for_update()
            .select_related("system")
            .filter(legal_entity=legal_entity)
            .first()
        )
        before = route.system.slug if route is not None else ""
        if route is None:
            route = ErpRoute.objects.create(legal_entity=legal_entity, system=system)
        elif route.system_id != system.pk:
            route.system = system
            route.save(update_fields=["system", "updated_at"])
        erp_route_waits_clear(route=route)
    return route, before


def erp_route_waits_clear(*, route: ErpRoute) -> int:
    """Re-runs the work that waited for this legal entity's route; call inside the
    transaction that stored the route."""
    return exceptions_clear(
        waiting_on=erp_route_waiting_key(route.legal_entity.code),
        resolution=f"Legal entity {route.legal_entity.code} was routed to {route.system.name}.",
    )


def erp_route_delete(*, route: ErpRoute) -> None:
    """Removes a route: the legal entity goes to the only ERP, or waits for a new route."""
    route.delete()
