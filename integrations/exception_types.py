"""Every business exception code the tower raises, with what a person needs to know of it.

One entry per ``ExceptionType``: the flow that raises it (empty where several do), its
default severity, how the money it holds up is counted, and where it is fixed. A code
that is not here cannot be raised: ``exception_kind`` refuses it, so a typo fails where
it is written instead of becoming "other". The canonical rules' own codes
(``canonical.choices.RuleCode``) are all here too.

To add a code: add it to ``ExceptionType`` (``integrations/choices.py``) and an entry
below; a migration records the new choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.choices import ExceptionType, FlowKind, Severity


@dataclass(frozen=True)
class ExceptionKind:
    """What the tower knows of one exception code."""

    code: ExceptionType
    flow: FlowKind | None
    severity: Severity
    money: str
    fix: str
    # Holds work for a second person's approval (four eyes), not for a fix.
    approval: bool = False

    @property
    def title(self) -> str:
        return str(self.code.label)


class UnknownExceptionCode(LookupError):
    """A business failure named a code that is not in the registry."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"{code!r} is not a business exception code; add it to ExceptionType and "
            "integrations.exception_types."
        )
        self.code = code


NO_MONEY = "None: it holds up no priced work yet."
HELD_TIME = "The held hours at their rate."

_KINDS = (
    ExceptionKind(
        ExceptionType.MISSING_RATE_CARD,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "None while nothing prices the held work; its transactions show how much waits.",
        "Add the rate card, or the role's line on it, in the admin (or the rate to the "
        "contract by an amendment); the held work then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.INVALID_LEGAL_ENTITY,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        NO_MONEY,
        "Add or activate the legal entity (it comes from the ERP, or an admin adds it); "
        "the held contracts then run by themselves.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_CUSTOMER,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        NO_MONEY,
        "The customer comes from the CRM, its system of record; add it there, or in the "
        "admin if the CRM is late.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_PROJECT,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        NO_MONEY,
        "A project is made by contract-to-project from its signed contract (or reaches the "
        "ERP there); check that flow's queue for its contract.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_RESOURCE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        NO_MONEY,
        "Resources come from the HRIS; a time system's user is linked to its resource on "
        "the resource's page.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_MILESTONE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        NO_MONEY,
        "Amend the contract with the milestone, or correct the milestone's code at its source.",
    ),
    ExceptionKind(
        ExceptionType.PROJECT_NOT_ACTIVE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        HELD_TIME,
        "Reopen the project, or move its end date past the time, in the PSA.",
    ),
    ExceptionKind(
        ExceptionType.RESOURCE_NOT_ASSIGNED,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The held hours at the rate of the resource's own role.",
        "Assign the resource to the project for the days worked, in the PSA.",
    ),
    ExceptionKind(
        ExceptionType.BILLING_HOLD,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The held hours at their rate, or the held milestone's amount.",
        "Lift the hold on the project (PSA) or on the customer (CRM) once billing may go on.",
    ),
    ExceptionKind(
        ExceptionType.CAP_EXCEEDED,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "The value of the time that would pass the contract's cap.",
        "Raise the cap by a contract amendment, or write the time off.",
    ),
    ExceptionKind(
        ExceptionType.AMENDMENT_CONFLICT,
        FlowKind.AMENDMENT_PROPAGATION,
        Severity.HIGH,
        "What the lower rate takes off time already invoiced at the old rate.",
        "An approver approves (the new rates apply from then on, invoiced time stays as "
        "billed) or rejects the amendment.",
        approval=True,
    ),
    ExceptionKind(
        ExceptionType.AMENDMENT_BEFORE_CONTRACT,
        FlowKind.AMENDMENT_PROPAGATION,
        Severity.MEDIUM,
        NO_MONEY,
        "It waits for the signed contract and runs by itself when the contract arrives.",
    ),
    ExceptionKind(
        ExceptionType.BILLING_TERMS_MISSING,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        NO_MONEY,
        "The contract's billing model needs terms it does not carry (a retainer its monthly "
        "fee and included hours, managed services its monthly fee): add them to the contract "
        "in the CLM, which sends it again, or replay the transaction with them.",
    ),
    ExceptionKind(
        ExceptionType.ASSIGNMENT_OUTSIDE_PROJECT,
        FlowKind.PROJECT_TO_STAFFING,
        Severity.MEDIUM,
        "The assignment's planned hours outside the dates, at its rate.",
        "Correct the assignment's dates in the PSA, or move the project's dates (PSA) or the "
        "contract's end (an amendment); the held assignment then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.RESOURCE_UNAVAILABLE,
        FlowKind.PROJECT_TO_STAFFING,
        Severity.HIGH,
        "The assignment's planned hours at its rate: nobody is there to do them.",
        "Re-staff the work in the PSA (and dismiss this), or, if the person is still with "
        "the firm, reactivate them in the HRIS: the held assignment then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.RESOURCE_OVER_ALLOCATED,
        FlowKind.PROJECT_TO_STAFFING,
        Severity.MEDIUM,
        "The excess share of each working day over 100 %, at the lowest rate among that "
        "day's assignments.",
        "A warning: the assignments are applied. Lower an allocation or move dates in the "
        "PSA; it resolves itself when a change brings the person to 100 % or less.",
    ),
    ExceptionKind(
        ExceptionType.NON_OWNER_UPDATE,
        FlowKind.MASTER_DATA_SYNC,
        Severity.MEDIUM,
        NO_MONEY,
        "Make the change in the system of record, or change the system of record for the "
        "domain in the admin.",
    ),
    ExceptionKind(
        ExceptionType.DOWNSTREAM_REJECTED,
        None,
        Severity.HIGH,
        "The refused invoice's amount; none for other records.",
        "Read the target system's message, fix the data it names (here or there), then retry.",
    ),
    ExceptionKind(
        ExceptionType.AUTHENTICATION_FAILED,
        None,
        Severity.CRITICAL,
        NO_MONEY,
        "Fix the system's credentials on its connection page (Systems) and test the "
        "connection: the work it held then runs by itself. Until then nothing is sent to it.",
    ),
    ExceptionKind(
        ExceptionType.MAPPING_INCOMPLETE,
        None,
        Severity.HIGH,
        NO_MONEY,
        "The sending system's record lacks a business value, or the field mapping reads it "
        "from the wrong place. Fix the mapping (Systems → the system → Field mappings), try "
        "it on this payload and publish it: the work runs again by itself. Or fix the record "
        "in the sending system, which sends it again.",
    ),
    ExceptionKind(
        ExceptionType.SYSTEM_NOT_CONFIGURED,
        None,
        Severity.HIGH,
        NO_MONEY,
        "Give the connected system what it lacks (its base URL, its credentials) in the "
        "admin, then retry.",
    ),
    ExceptionKind(
        ExceptionType.ERP_NOT_ROUTED,
        None,
        Severity.HIGH,
        NO_MONEY,
        "Several ERPs are connected and none owns this legal entity: route it to its ERP "
        "(Systems page, the admin or the API); the held work then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.RECONCILIATION_DRIFT,
        FlowKind.RECONCILIATION,
        Severity.HIGH,
        "The amount by which the ERP's copy differs from what the tower posted.",
        "Correct the ERP's copy or re-push the record; the next reconciliation resolves it "
        "when the copies agree.",
    ),
    ExceptionKind(
        ExceptionType.UNHANDLED_EVENT_TYPE,
        None,
        Severity.CRITICAL,
        NO_MONEY,
        "A sender sent an event type no flow handles; correct the sender's configuration.",
    ),
    ExceptionKind(
        ExceptionType.INVOICE_REJECTED,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The rejected candidate's amount.",
        "Correct the time at its source, then resolve: a new candidate is built from the "
        "month's unbilled time.",
    ),
    ExceptionKind(
        ExceptionType.MISSING_COST_RATE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The person's approved hours that carry no cost, at the rate they bill on their "
        "projects (the rate card's rate for their role; 0 where the role has none).",
        "A warning: the time is billed as usual, only its cost is missing from the ERP and "
        "the margin. Set the person's cost rate in the HRIS; the next cost run costs the "
        "hours, posts them to the ERP and resolves it.",
    ),
    ExceptionKind(
        ExceptionType.EDITED_REPLAY,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "None until the replay runs.",
        "An approver other than the person who edited it approves or rejects the replay.",
        approval=True,
    ),
    ExceptionKind(
        ExceptionType.OTHER,
        None,
        Severity.MEDIUM,
        NO_MONEY,
        "Read the message; no code raises this any more.",
    ),
)

EXCEPTION_KINDS: dict[str, ExceptionKind] = {kind.code.value: kind for kind in _KINDS}

# Exceptions that hold work for a second person's approval (four eyes), not for a fix.
APPROVAL_TYPES = tuple(kind.code for kind in _KINDS if kind.approval)


def exception_kind(code: str) -> ExceptionKind:
    """The registry's entry for ``code``; an unknown code is refused, never turned into "other"."""
    try:
        return EXCEPTION_KINDS[code]
    except KeyError:
        raise UnknownExceptionCode(code) from None
