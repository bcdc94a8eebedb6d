from __future__ import annotations

from rest_framework.routers import DefaultRouter

from controltower.web.api.canonical import views

router = DefaultRouter(trailing_slash=True)
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
