from __future__ import annotations

from controltower.web.api.canonical import views
from controltower.web.api.routers import ApiRouter

router = ApiRouter(trailing_slash=True)
router.register("legal-entities", views.LegalEntityViewSet)
router.register("customers", views.CustomerViewSet)
router.register("rate-cards", views.RateCardViewSet)
router.register("contracts", views.ContractViewSet)
router.register("projects", views.ProjectViewSet)
router.register("resources", views.ResourceViewSet)
router.register("assignments", views.AssignmentViewSet)
router.register("time-entries", views.TimeEntryViewSet)
router.register("billing-milestones", views.BillingMilestoneViewSet)
router.register("invoices", views.InvoiceViewSet)

urlpatterns = router.urls
