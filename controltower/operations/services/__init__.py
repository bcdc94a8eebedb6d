"""Services of the operations layer: audit, ownership, the exception lifecycle, SLAs."""

from controltower.operations.services.audit import audit_record, snapshot

__all__ = ["audit_record", "snapshot"]
