from __future__ import annotations

from controltower.web.api.routers import ApiRouter
from controltower.web.api.subscriptions import views

router = ApiRouter(trailing_slash=True)
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("deliveries", views.DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
