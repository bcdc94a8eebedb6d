"""The canonical dialect's JSON Schemas: their versions (``registry``), the upcasters that
carry an older version's event to the current one (``upcast``) and the check that a released
version is never changed in a way that refuses what it accepted (``compat``)."""
