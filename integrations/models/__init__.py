from integrations.models.engine import Attempt, Transaction
from integrations.models.systems import ConnectedSystem, Flow
from integrations.models.sync import SyncState

__all__ = ["Attempt", "ConnectedSystem", "Flow", "SyncState", "Transaction"]
