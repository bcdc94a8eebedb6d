from canonical.models.base import CanonicalRecord
from canonical.models.billing import Invoice, InvoiceLine
from canonical.models.commercial import (
    BillingMilestone,
    Contract,
    ContractVersion,
    RateCard,
    RateCardLine,
)
from canonical.models.delivery import Assignment, Project, TimeEntry
from canonical.models.finance import ProjectCost, RevenueSchedule, RevenueScheduleLine
from canonical.models.parties import Customer, LegalEntity, Resource

__all__ = [
    "Assignment",
    "BillingMilestone",
    "CanonicalRecord",
    "Contract",
    "ContractVersion",
    "Customer",
    "Invoice",
    "InvoiceLine",
    "LegalEntity",
    "Project",
    "ProjectCost",
    "RateCard",
    "RateCardLine",
    "Resource",
    "RevenueSchedule",
    "RevenueScheduleLine",
    "TimeEntry",
]
