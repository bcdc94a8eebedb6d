"""Every business exception code the tower raises, with what a person needs to know of it.

One entry per ``ExceptionType``: the flow that raises it (empty where several do), its
default severity, how the money it holds up is counted, and where it is fixed. A code
that is not here cannot be raised: ``exception_kind`` refuses it, so a typo fails where
it is written instead of becoming "other". The canonical rules' own codes
(``canonical.choices.RuleCode``) are all here too.

To add a code: add it to ``ExceptionType`` (``integrations/choices.py``), an entry below
(its ``money`` says how money at risk is estimated) and its estimator in
``integrations.services.money_at_risk.ESTIMATORS`` (``held_work`` when the code holds a
transaction whose value is the usual one, ``counted_by_rule`` when the raising code counts
it, ``nothing`` with the reason when it cannot hold money); a migration records the new
choice. ``tests/integrations/test_money_at_risk.py`` walks this registry.
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


# For a code that cannot hold money; its estimator (``nothing``) says why.
NO_MONEY = "None: it holds up no priced work yet."
HELD_TIME = "The held hours at their rate."
HELD_EXPENSE = (
    "The held expense line's billable amount: converted to the contract's currency at the "
    "line's rate, plus the contract's markup."
)
# The value of whatever the exception holds, as ``integrations.services.money_at_risk`` counts it.
HELD_WORK = (
    "What the held work is worth: a contract's remaining value (its cap, else its "
    "milestones, else its monthly fee for the months left), time's hours at their rate, a "
    "milestone's amount, an assignment's planned hours at its rate."
)

_KINDS = (
    ExceptionKind(
        ExceptionType.MISSING_RATE_CARD,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "A held contract's remaining value (its cap, else its milestones, else its monthly "
        "fee for the months left); held time has none while nothing prices it.",
        "Add the rate card, or the role's line on it, in the admin (or the rate to the "
        "contract by an amendment); the held work then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.INVALID_LEGAL_ENTITY,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        HELD_WORK,
        "Add or activate the legal entity (it comes from the ERP, or an admin adds it); "
        "the held contracts then run by themselves.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_CUSTOMER,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        HELD_WORK,
        "The customer comes from the CRM, its system of record; add it there, or in the "
        "admin if the CRM is late.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_PROJECT,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The held hours at the rate the person's role bills at under the contract that "
        "creates the project (its own rate, else its rate card's).",
        "A project is made by contract-to-project from its signed contract (or reaches the "
        "ERP there); check that flow's queue for its contract.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_RESOURCE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The held hours at the lowest rate of the project's contract (the person, so the "
        "role, is unknown).",
        "Resources come from the HRIS; a time system's user is linked to its resource on "
        "the resource's page.",
    ),
    ExceptionKind(
        ExceptionType.UNKNOWN_MILESTONE,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The milestone's amount, where a held amendment of the contract names it; else none "
        "(nothing says what it is worth).",
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
        "The amended contract's remaining value (as for a held contract), or the held "
        "milestone's amount from the contract's terms.",
        "It waits for the signed contract and runs by itself when the contract arrives.",
    ),
    ExceptionKind(
        ExceptionType.BILLING_TERMS_MISSING,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.HIGH,
        HELD_WORK,
        "The contract's billing model needs terms it does not carry (a retainer its monthly "
        "fee and included hours, managed services its monthly fee): add them to the contract "
        "in the CLM, which sends it again, or replay the transaction with them.",
    ),
    ExceptionKind(
        ExceptionType.CUSTOMER_PARENT_CYCLE,
        FlowKind.MASTER_DATA_SYNC,
        Severity.MEDIUM,
        "None: a customer's bill-to account prices no work; the invoices that wait for it "
        "carry their amounts on their own exceptions.",
        "The customer names as its bill-to account one of its own children (or itself): "
        "correct the parent account in the CRM, which sends the customer again.",
    ),
    ExceptionKind(
        ExceptionType.INVOICE_TAX_CODE_MISSING,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "The invoice amount: the whole invoice waits before the ERP.",
        "Give the bill-to customer a tax code in the CRM (or the contract one by an "
        "amendment); the invoice is then posted by itself.",
    ),
    ExceptionKind(
        ExceptionType.INVOICE_PAYMENT_TERMS_MISSING,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "The invoice amount: the whole invoice waits before the ERP.",
        "Give the bill-to customer payment terms in the CRM (or the contract its own by an "
        "amendment); the invoice is then posted by itself.",
    ),
    ExceptionKind(
        ExceptionType.CODE_NOT_ACCEPTED_BY_ERP,
        FlowKind.TIME_TO_BILLING,
        Severity.HIGH,
        "The invoice amount: the whole invoice waits before the ERP.",
        "Correct the code on the customer or contract, or add it in the ERP for the legal "
        "entity and sync its accepted codes (or add it in the admin); the invoice is then "
        "posted by itself.",
    ),
    ExceptionKind(
        ExceptionType.EXPENSE_CATEGORY_NOT_ALLOWED,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        HELD_EXPENSE,
        "Rebill the category by a contract amendment (the report then runs by itself), or "
        "mark the line non-billable in the PSA, which sends the report again.",
    ),
    ExceptionKind(
        ExceptionType.EXPENSE_RECEIPT_MISSING,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        HELD_EXPENSE,
        "Attach the receipt to the expense line in the PSA, which sends the report again.",
    ),
    ExceptionKind(
        ExceptionType.EXPENSE_RATE_MISSING,
        FlowKind.TIME_TO_BILLING,
        Severity.MEDIUM,
        "The line's amount after markup, in the line's own currency (it cannot be converted "
        "without its rate).",
        "Give the line its exchange rate to the contract's currency in the PSA, which sends "
        "the report again.",
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
        ExceptionType.RESOURCE_LACKS_SKILLS,
        FlowKind.PROJECT_TO_STAFFING,
        Severity.LOW,
        "The assignment's planned time at its rate: the working days of its dates at its "
        "allocation, 8 h a day.",
        "Staff someone with the skills in the PSA, or record the person's skills in the HRIS "
        "(it is resolved by itself when they arrive), or amend the project's role "
        "requirements on its contract.",
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
        "None: the refused update is not applied and holds no work; the owner's data stands.",
        "Make the change in the system of record, or change the system of record for the "
        "domain in the admin.",
    ),
    ExceptionKind(
        ExceptionType.DOWNSTREAM_REJECTED,
        None,
        Severity.HIGH,
        "The refused invoice's amount; for another record, what the held work is worth "
        "(a project push: its contract's remaining value).",
        "Read the target system's message, fix the data it names (here or there), then retry.",
    ),
    ExceptionKind(
        ExceptionType.AUTHENTICATION_FAILED,
        None,
        Severity.CRITICAL,
        HELD_WORK,
        "Fix the system's credentials on its connection page (Systems) and test the "
        "connection: the work it held then runs by itself. Until then nothing is sent to it.",
    ),
    ExceptionKind(
        ExceptionType.MAPPING_INCOMPLETE,
        None,
        Severity.HIGH,
        HELD_WORK,
        "The sending system's record lacks a business value, or the field mapping reads it "
        "from the wrong place. Fix the mapping (Systems → the system → Field mappings), try "
        "it on this payload and publish it: the work runs again by itself. Or fix the record "
        "in the sending system, which sends it again.",
    ),
    ExceptionKind(
        ExceptionType.SYSTEM_NOT_CONFIGURED,
        None,
        Severity.HIGH,
        HELD_WORK,
        "Give the connected system what it lacks (its base URL, its credentials) in the "
        "admin, then retry.",
    ),
    ExceptionKind(
        ExceptionType.ERP_NOT_ROUTED,
        None,
        Severity.HIGH,
        HELD_WORK,
        "Several ERPs are connected and none owns this legal entity: route it to its ERP "
        "(Systems page, the admin or the API); the held work then runs by itself.",
    ),
    ExceptionKind(
        ExceptionType.RECONCILIATION_DRIFT,
        FlowKind.RECONCILIATION,
        Severity.HIGH,
        "By kind: a missing ERP job or PSA project, the contract's remaining value; other "
        "ERP job rates, the unposted approved hours times the rate difference; a PSA project's "
        "status or dates, its unposted approved time; unbilled time, hours times rate; an "
        "invoice, the amount by which the ERP's copy differs from what the tower posted.",
        "Run the drift's action (re-push, create the missing record, build the candidate) or "
        "correct the other system's copy; the next reconciliation resolves it when they agree.",
    ),
    ExceptionKind(
        ExceptionType.UNHANDLED_EVENT_TYPE,
        None,
        Severity.CRITICAL,
        "None: no flow reads the event, so nothing says what it is worth.",
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
        "What the edited work is worth: time's hours at their rate, a milestone's amount.",
        "An approver other than the person who edited it approves or rejects the replay.",
        approval=True,
    ),
    ExceptionKind(
        ExceptionType.CONTRACT_NEARING_END,
        FlowKind.CONTRACT_TO_PROJECT,
        Severity.LOW,
        "The contract's remaining value: its cap less what is billed; without a cap, its "
        "unbilled milestones, or its monthly fee for the months left of its term.",
        "A notice, not a refusal: agree a renewal or an extension with the customer and "
        "amend the contract in the CLM (a new end date or cap gives a new notice when it "
        "nears), or resolve it once the owner knows.",
    ),
    ExceptionKind(
        ExceptionType.OTHER,
        None,
        Severity.MEDIUM,
        "None: no code raises it any more.",
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
