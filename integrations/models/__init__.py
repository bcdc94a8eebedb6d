from integrations.models.engine import Attempt, Transaction
from integrations.models.exceptions import ExceptionRecord
from integrations.models.outbound import CircuitBreaker, RateBucket
from integrations.models.rollups import FlowRollup
from integrations.models.runtime import ProcessHeartbeat
from integrations.models.sync import SyncState
from integrations.models.systems import ConnectedSystem, Flow, SystemOfRecord

__all__ = [
    "Attempt",
    "CircuitBreaker",
    "ConnectedSystem",
    "ExceptionRecord",
    "Flow",
    "FlowRollup",
    "ProcessHeartbeat",
    "RateBucket",
    "SyncState",
    "SystemOfRecord",
    "Transaction",
]
