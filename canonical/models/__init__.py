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
from canonical.models.expenses import ExpenseLine, ExpenseReport
from canonical.models.finance import ProjectCost, RevenueSchedule, RevenueScheduleLine
from canonical.models.parties import AcceptedCode, Customer, LegalEntity, Resource

__all__ = [
    "AcceptedCode",
    "Assignment",
    "BillingMilestone",
    "CanonicalRecord",
    "Contract",
    "ContractVersion",
    "Customer",
    "ExpenseLine",
    "ExpenseReport",
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
