"""The integration engine's pages: the transaction explorer, systems and flows, and the
record view. Thin doors onto ``integrations.selectors`` (reads) and
``integrations.services`` (actions), so a page does what the API does."""
