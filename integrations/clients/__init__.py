"""Outbound clients: the tower calling ERP and PSA over HTTP."""
