"""The pages of the tower: server-rendered, htmx for the interactive parts; thin doors onto
the services (writes) and selectors (reads) of the layers below, so a page does what the
API does."""
