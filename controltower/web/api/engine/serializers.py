from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from controltower.web.api.canonical.serializers import MaskedModelSerializer
from controltower.web.api.fields import NulFreeJSONField
from integrations.choices import BreakerState, ImportFormat, ImportKind
from integrations.models import (
    Attempt,
    CircuitBreaker,
    Compensation,
    ConnectedSystem,
    ErpRoute,
    FieldMapping,
    Flow,
    ImportJob,
    ImportRow,
    OutboundAuth,
    Poller,
    SyncState,
    Transaction,
)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "outcome",
            "error_class",
            "error_message",
            "outbound_status",
            "outbound_summary",
            "worker",
        ]


class TransactionSerializer(serializers.ModelSerializer):
    flow = serializers.SlugRelatedField(slug_field="kind", read_only=True)
    source_system = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    target_system = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "flow",
            "source_system",
            "target_system",
            "event_type",
            "business_key",
            "external_id",
            "idempotency_key",
            "event_version",
            "schema_version",
            "correlation_id",
            "parent",
            "replaced_by",
            "state",
            "outcome",
            "attempts_count",
            "next_attempt_at",
            "error_class",
            "error_code",
            "last_error",
            "errors",
            "fetch",
            "sla_due_at",
            "received_at",
            "finished_at",
            "updated_at",
        ]


class TransactionDetailSerializer(TransactionSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(TransactionSerializer.Meta):
        fields = [
            *TransactionSerializer.Meta.fields,
            "payload",
            "normalized",
            "raw_body",
            "raw_body_bytes",
            "raw_body_truncated",
            "attempts",
        ]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RequiredReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReplaySerializer(ReasonSerializer):
    payload = NulFreeJSONField(
        required=False, help_text="An edited canonical event; omit to replay the event as it was."
    )


class BulkRetryResultSerializer(serializers.Serializer):
    retried = serializers.IntegerField()
    operation = serializers.IntegerField(
        help_text="The bulk operation whose done / total follow the retried transactions."
    )


class CircuitBreakerSerializer(serializers.ModelSerializer):
    class Meta:
        model = CircuitBreaker
        fields = ["state", "failures", "opened_at", "probe_at", "manual", "last_error"]


class SigningSecretStateSerializer(serializers.Serializer):
    """Where a system's inbound signing secret comes from; never the secret."""

    source = serializers.ChoiceField(
        choices=["tower", "environment", "demo", "none"],
        help_text="tower: set or rotated in the tower; environment: CT_SECRET_<SLUG> (or the "
        "variable the system names); demo: the demo secret; none: inbound events are refused.",
    )
    environment_variable = serializers.CharField()
    rotated_at = serializers.DateTimeField(allow_null=True)
    previous_valid_until = serializers.DateTimeField(
        allow_null=True, help_text="Until when the secrets the last rotation replaced verify."
    )


def signing_state(system: ConnectedSystem) -> dict:
    return {
        "source": system.signing_secret_source,
        "environment_variable": system.secret_env_name,
        "rotated_at": system.signing_secret_rotated_at,
        "previous_valid_until": system.previous_signing_secrets_until
        if system.previous_secrets_valid()
        else None,
    }


class SigningSecretRotateSerializer(serializers.Serializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        trim_whitespace=False,
        help_text="The new secret; leave it out and the tower generates one.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SigningSecretRotatedSerializer(serializers.Serializer):
    secret = serializers.CharField(
        help_text="The new signing secret: shown this once, give it to the sender now."
    )
    signing_secret = SigningSecretStateSerializer()


class ConnectedSystemSerializer(serializers.ModelSerializer):
    breaker = serializers.SerializerMethodField(
        help_text="Whether the tower calls the system now; null when it never failed."
    )
    signing_secret = serializers.SerializerMethodField()

    class Meta:
        model = ConnectedSystem
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "adapter",
            "base_url",
            "enabled",
            "inbound_requests_per_minute",
            "rate_limit_per_minute",
            "rate_limit_burst",
            "retry_budget_hours",
            "breaker",
            "signing_secret",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(SigningSecretStateSerializer())
    def get_signing_secret(self, system: ConnectedSystem) -> dict:
        return SigningSecretStateSerializer(signing_state(system)).data

    @extend_schema_field(CircuitBreakerSerializer(allow_null=True))
    def get_breaker(self, system: ConnectedSystem) -> dict | None:
        try:
            return CircuitBreakerSerializer(system.breaker).data
        except CircuitBreaker.DoesNotExist:
            return None


class ConnectionSerializer(serializers.ModelSerializer):
    """How the tower authenticates to a system; the secret is write-only (``secret_set`` says
    whether one is stored; leave ``secret`` out to keep it)."""

    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=4000, trim_whitespace=False
    )
    secret_set = serializers.SerializerMethodField()
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, default="")

    class Meta:
        model = OutboundAuth
        fields = [
            "kind",
            "username",
            "secret",
            "secret_set",
            "header_name",
            "header_prefix",
            "token_url",
            "scope",
            "reason",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {"kind": {"required": True}}

    def get_secret_set(self, auth: OutboundAuth) -> bool:
        return bool(auth.secret)


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    url = serializers.CharField()
    status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class BreakerSetSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=[BreakerState.OPEN, BreakerState.CLOSED],
        help_text="open: the tower stops calling the system until a person closes it; "
        "closed: it calls it again and sends the work that waited.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class FlowSerializer(serializers.ModelSerializer):
    queue = serializers.CharField(read_only=True)

    class Meta:
        model = Flow
        fields = [
            "id",
            "kind",
            "name",
            "paused",
            "queue",
            "max_attempts",
            "backoff_base_seconds",
            "backoff_cap_seconds",
            "sla_seconds",
            "updated_at",
        ]


class SyncStateSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    record_type = serializers.CharField(source="content_type.model", read_only=True)

    class Meta:
        model = SyncState
        fields = [
            "id",
            "record_type",
            "object_id",
            "system",
            "external_id",
            "last_version",
            "source_version",
            "content_hash",
            "synced_at",
            "outcome",
            "last_transaction",
        ]


class InboundEventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    transaction_id = serializers.IntegerField()
    duplicate = serializers.BooleanField()
    ignored = serializers.CharField(
        required=False, help_text="Why the system's mapping ignores the event (it is kept)."
    )
    unmapped = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Business values the mapping could not read, by vendor path: the event is "
        "kept and held as a mapping_incomplete exception until a mapping gives them.",
    )


class InboundResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    ignored = serializers.IntegerField(help_text="Accepted events the mapping ignores by rule.")
    transaction_ids = serializers.ListField(child=serializers.IntegerField())
    results = InboundEventResultSerializer(many=True)


# --- field mappings -----------------------------------------------------------------------


class FieldMappingSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = FieldMapping
        fields = [
            "record_type",
            "version",
            "status",
            "document",
            "note",
            "created_by",
            "created_at",
            "published_at",
        ]


class MappingStateSerializer(serializers.Serializer):
    record_type = serializers.CharField()
    version = serializers.IntegerField(help_text="The version in force; 0 is the default.")
    document = serializers.JSONField(help_text="The mapping in force.")
    draft = FieldMappingSerializer(allow_null=True)
    versions = FieldMappingSerializer(many=True)


class MappingDraftSerializer(serializers.Serializer):
    document = serializers.JSONField(
        help_text='{"when": [{"source": path, "in": [values]}], "fields": [{"field": canonical '
        'field, "source": path (or "sources"), "transform": ..., "values": {...}, "default": ...}]}'
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MappingPreviewRequestSerializer(serializers.Serializer):
    document = serializers.JSONField()
    sample = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1_000_000,
        trim_whitespace=False,
        help_text="A body as the system sends it.",
    )
    transaction_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=50
    )


class MappingPreviewSerializer(serializers.Serializer):
    source = serializers.CharField()
    key = serializers.CharField()
    ok = serializers.BooleanField()
    normalized = serializers.JSONField(allow_null=True)
    ignored = serializers.CharField()
    unmapped = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class MappingPublishedSerializer(serializers.Serializer):
    mapping = FieldMappingSerializer()
    replaced = serializers.IntegerField()
    released = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class PollerSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    lag_seconds = serializers.SerializerMethodField(
        help_text="Now minus the cursor; null before the first change is stored."
    )
    running = serializers.SerializerMethodField()
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Kept in the audit log."
    )

    class Meta:
        model = Poller
        fields = [
            "id",
            "system",
            "record_type",
            "enabled",
            "interval_seconds",
            "overlap_seconds",
            "page_size",
            "cursor",
            "lag_seconds",
            "running",
            "last_started_at",
            "last_finished_at",
            "last_outcome",
            "last_error",
            "last_received",
            "last_stored",
            "last_pages",
            "reason",
        ]
        read_only_fields = [
            "record_type",
            "last_started_at",
            "last_finished_at",
            "last_outcome",
            "last_error",
            "last_received",
            "last_stored",
            "last_pages",
        ]

    def get_lag_seconds(self, poller: Poller) -> float | None:
        lag = poller.lag()
        return round(lag.total_seconds(), 1) if lag is not None else None

    def get_running(self, poller: Poller) -> bool:
        return poller.running_since is not None


class PollRunSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    received = serializers.IntegerField(help_text="Records read, duplicates included.")
    stored = serializers.IntegerField(help_text="New transactions.")
    refused = serializers.IntegerField(help_text="Records that did not fit, kept as refused.")
    pages = serializers.IntegerField()
    cursor = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ErpRouteSerializer(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(slug_field="code", read_only=True)
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    system_name = serializers.CharField(source="system.name", read_only=True)

    class Meta:
        model = ErpRoute
        fields = ["legal_entity", "system", "system_name", "created_at", "updated_at"]


class ErpRouteSetSerializer(serializers.Serializer):
    legal_entity = serializers.CharField(help_text="The legal entity's code, e.g. GB01.")
    system = serializers.CharField(help_text="The slug of the ERP that owns it.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ImportRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRow
        fields = ["number", "business_key", "outcome", "fields", "errors", "transaction"]


class ImportJobSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    progress = serializers.IntegerField(read_only=True, help_text="Percent of the rows done.")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "format",
            "file_name",
            "system",
            "dry_run",
            "push_downstream",
            "state",
            "rows_total",
            "rows_done",
            "progress",
            "created",
            "changed",
            "unchanged",
            "refused",
            "blocked",
            "cursor",
            "last_error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ImportStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField(help_text="CSV (a header of canonical field names) or JSON Lines.")
    format = serializers.ChoiceField(
        choices=ImportFormat.choices,
        required=False,
        help_text="Default: from the file name (.csv, .jsonl, .ndjson).",
    )
    system = serializers.SlugField(
        required=False, help_text="The system the history comes from; default: the data's owner."
    )
    dry_run = serializers.BooleanField(default=False)
    push_downstream = serializers.BooleanField(default=True)


class CompensationSerializer(MaskedModelSerializer):
    """A compensating action: the side effect it undoes, who allowed it, what executed it.
    Its amount and rate are null for a reader who may not see pricing."""

    system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    moves_money = serializers.BooleanField(read_only=True)

    class Meta:
        model = Compensation
        fields = [
            "id",
            "step",
            "action",
            "state",
            "system",
            "record_kind",
            "external_id",
            "business_key",
            "correlation_id",
            "reason",
            "details",
            "amount",
            "rate",
            "currency",
            "moves_money",
            "source_transaction",
            "execution",
            "result_id",
            "requested_by",
            "approved_by",
            "decided_by",
            "decision_reason",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SchemaVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    current = serializers.BooleanField(help_text="The version the flows read.")
    deprecated = serializers.BooleanField(help_text="Announced for retirement.")
    deprecated_from = serializers.DateField(
        allow_null=True, help_text="From this day senders should send a later version."
    )
    upcast = serializers.BooleanField(
        help_text="An event of this version is upcast to the current one when it is read."
    )
    file_name = serializers.CharField(help_text="In integrations/schemas/canonical/.")


class SchemaVersionDetailSerializer(SchemaVersionSerializer):
    schema = serializers.JSONField(help_text="The JSON Schema (draft 2020-12).")
    examples = serializers.JSONField(help_text="Events that fit this version.")


class EventSchemaSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    flow = serializers.CharField(help_text="The flow its events run in.")
    business_key = serializers.CharField(help_text="The data field that is its business key.")
    current_version = serializers.IntegerField()
    versions = SchemaVersionSerializer(many=True)


class EventSchemaDetailSerializer(EventSchemaSerializer):
    versions = SchemaVersionDetailSerializer(many=True)


class SchemaUsageRowSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    schema_version = serializers.IntegerField(help_text="The version the events arrived in.")
    count = serializers.IntegerField()
    last_received_at = serializers.DateTimeField()
    current = serializers.BooleanField()
    deprecated = serializers.BooleanField()
    deprecated_from = serializers.DateField(allow_null=True)


class SchemaUsageSerializer(serializers.Serializer):
    system = serializers.CharField(source="system.slug")
    since = serializers.DateTimeField()
    days = serializers.IntegerField(help_text="CT_SCHEMA_USAGE_DAYS.")
    rows = SchemaUsageRowSerializer(many=True)
