from integrations.models.compensation import Compensation
from integrations.models.engine import Attempt, Transaction
from integrations.models.exceptions import ExceptionRecord
from integrations.models.imports import ImportJob, ImportRow
from integrations.models.inbound import InboundBucket
from integrations.models.mappings import FieldMapping
from integrations.models.outbound import AccessToken, CircuitBreaker, OutboundAuth, RateBucket
from integrations.models.pollers import Poller
from integrations.models.retention import RetentionSweep
from integrations.models.rollups import FlowRollup
from integrations.models.routing import ErpRoute
from integrations.models.runtime import ProcessHeartbeat
from integrations.models.subscriptions import (
    Delivery,
    DeliveryAttempt,
    OutboxEvent,
    Subscription,
)
from integrations.models.sync import SyncState
from integrations.models.systems import ConnectedSystem, Flow, SystemOfRecord

__all__ = [
    "AccessToken",
    "Attempt",
    "CircuitBreaker",
    "Compensation",
    "ConnectedSystem",
    "Delivery",
    "DeliveryAttempt",
    "ErpRoute",
    "ExceptionRecord",
    "FieldMapping",
    "Flow",
    "FlowRollup",
    "ImportJob",
    "ImportRow",
    "InboundBucket",
    "OutboundAuth",
    "OutboxEvent",
    "Poller",
    "ProcessHeartbeat",
    "RateBucket",
    "RetentionSweep",
    "Subscription",
    "SyncState",
    "SystemOfRecord",
    "Transaction",
]
