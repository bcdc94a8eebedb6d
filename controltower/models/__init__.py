from controltower.models.audit import AuditEvent
from controltower.models.exceptions import BusinessException

__all__ = ["AuditEvent", "BusinessException"]
