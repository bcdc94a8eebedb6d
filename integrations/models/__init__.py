from integrations.models.engine import Attempt, Transaction
from integrations.models.exceptions import ExceptionRecord
from integrations.models.inbound import InboundBucket
from integrations.models.mappings import FieldMapping
from integrations.models.outbound import AccessToken, CircuitBreaker, OutboundAuth, RateBucket
from integrations.models.pollers import Poller
from integrations.models.retention import RetentionSweep
from integrations.models.rollups import FlowRollup
from integrations.models.routing import ErpRoute
from integrations.models.runtime import ProcessHeartbeat
from integrations.models.sync import SyncState
from integrations.models.systems import ConnectedSystem, Flow, SystemOfRecord

__all__ = [
    "AccessToken",
    "Attempt",
    "CircuitBreaker",
    "ConnectedSystem",
    "ErpRoute",
    "ExceptionRecord",
    "FieldMapping",
    "Flow",
    "FlowRollup",
    "InboundBucket",
    "OutboundAuth",
    "Poller",
    "ProcessHeartbeat",
    "RateBucket",
    "RetentionSweep",
    "SyncState",
    "SystemOfRecord",
    "Transaction",
]
