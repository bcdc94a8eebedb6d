"""Writes to the canonical records, one module per area.

An upsert applies an incoming record only when it carries a newer version than
the one held: an older one is ``stale`` and the same one ``unchanged``, and
neither writes anything. Callers run these inside their own ``transaction.atomic()``.
"""
