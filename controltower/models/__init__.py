from controltower.models.audit import AuditEvent

__all__ = ["AuditEvent"]
