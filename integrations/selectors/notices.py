"""Reads of renewal and obligation notices (``contract_nearing_end`` exceptions)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from canonical.models import Contract
from integrations.choices import ExceptionType
from integrations.models import ExceptionRecord


def contract_notices(*, contract: Contract) -> QuerySet[ExceptionRecord]:
    """The contract's notices, open and closed, newest first."""
    return ExceptionRecord.objects.filter(
        exception_type=ExceptionType.CONTRACT_NEARING_END,
        record_type=ContentType.objects.get_for_model(Contract),
        record_id=contract.pk,
    ).order_by("-created_at", "-pk")
