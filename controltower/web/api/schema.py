"""Corrections to the generated OpenAPI schema so that it is true to every answer.

A URL or e-mail field that may be left blank answers ``""``, which is not a ``uri`` nor an
``email``: its schema says "that format, or empty" (the extensions below, and the hook in
``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class _BlankableFormat(OpenApiSerializerFieldExtension):
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if getattr(self.target, "allow_blank", False) and "format" in schema:
            schema["anyOf"] = [{"format": schema.pop("format")}, {"maxLength": 0}]
        return schema


class BlankableURLExtension(_BlankableFormat):
    target_class = "rest_framework.fields.URLField"


class BlankableEmailExtension(_BlankableFormat):
    target_class = "rest_framework.fields.EmailField"


def blankable_formats_postprocess(result, generator, request, public):
    """Drop the ``format`` that drf-spectacular adds back from the field's validator where
    the field above already says "that format, or empty", and a type named twice."""

    def walk(node):
        if isinstance(node, dict):
            if "anyOf" in node and node.get("format") in ("uri", "email"):
                del node["format"]
            if isinstance(node.get("type"), list):
                # OpenAPI 3.1 says "may be null" in the type; the extension above and the
                # field's own mapping would each say it.
                node["type"] = list(dict.fromkeys(node["type"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
