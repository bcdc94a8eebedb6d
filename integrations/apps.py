from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # The flow modules register their handlers when imported; they need the models.
        from integrations.flows import (  # noqa: F401
            amendment_propagation,
            compensation,
            contract_notices,
            contract_to_project,
            cost_and_revenue,
            expenses,
            master_data,
            project_to_staffing,
            reconciliation,
            repush,
            time_to_billing,
        )
