"""The flows: one module each (contract to project, project to staffing, time to billing,
expenses, amendment propagation, master-data sync, reconciliation, and the re-push of a
record), registering their handlers in ``integrations.flows.registry``."""
