"""Realistic canonical traffic for the tower, good and bad, built from a seed.

Pure: ``traffic_build`` returns the events in the order to send them and does no I/O
(``manage.py generate_traffic`` sends them). The same seed and start date give the
same events, ids included, so a run can be repeated; sent again to the same tower,
every event is a duplicate.

What a plan holds, on the demo firm's master data (``demo_firm.py``, the simulator's own
copy of the demo data the tower loads):

- ``resource.upserted`` (hris) for the demo consultants and ``customer.upserted`` (crm)
  for the demo customers;
- per contract: ``contract.signed`` (clm) on a demo customer, its legal entity and rate
  card; one to three ``assignment.upserted`` (psa) of consultants whose role is on the
  rate card; ``volume`` ``time_entry.approved`` (psa) per working day over ``days``
  working days (the odd contracts' in schema version 2, the others' in version 1); for
  about a third of them a ``contract.amended`` (clm) with new rates; every contract
  rebills travel and lodging (every other one meals too) at a markup of 0, 5 or 10 %;
- for about half of the contracts (the first always) an ``expense_report.approved`` (psa)
  of two to four lines: rebillable categories, some in a second currency with their
  exchange rate, some not billable; drawn from a random stream of their own, so that the
  events above are the same as without them;
- ``error_share`` of that count again as bad scenarios, each schema-valid so that the
  tower accepts it at the door and must catch it later (see ``BAD_SCENARIOS``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from simulator.demo_firm import CUSTOMER_TERMS, CUSTOMERS, RATE_CARDS, RESOURCES

# The order in which the phases are sent; within one, events go in batches per system.
PHASE_MASTER_DATA = 0
PHASE_EARLY = 1  # amendments sent before their contract
PHASE_CONTRACTS = 2
PHASE_STAFFING = 3
PHASE_TIME = 4
PHASE_CHANGES = 5  # amendments, projects closed, newer versions
PHASE_LATE = 6  # time on closed projects, older versions after newer ones
PHASE_RESENDS = 7  # duplicates: whole requests of events already sent, answered 200

OK = "ok"
MISSING_RATE_CARD = "missing_rate_card"
INVALID_LEGAL_ENTITY = "invalid_legal_entity"
UNKNOWN_CUSTOMER = "unknown_customer"
CLOSED_PROJECT = "closed_project"
DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
AMENDMENT_BEFORE_CONTRACT = "amendment_before_contract"
EXPENSE_CATEGORY_NOT_ALLOWED = "expense_category_not_allowed"
BAD_SCENARIOS = {
    MISSING_RATE_CARD: "an assignment and time for a role not on the contract's rate card",
    INVALID_LEGAL_ENTITY: "a contract signed by a legal entity the tower does not know",
    UNKNOWN_CUSTOMER: "a contract for a customer the tower does not know",
    CLOSED_PROJECT: "a project closed in the PSA, then time approved on it",
    DUPLICATE: "an event sent again with the same id",
    OUT_OF_ORDER: "a newer assignment version, then an older one",
    AMENDMENT_BEFORE_CONTRACT: "a contract amendment that arrives before its signed contract",
    EXPENSE_CATEGORY_NOT_ALLOWED: "an expense report with a billable line in a category the "
    "contract does not rebill",
}

ENTITY_CURRENCY = {"US01": "USD", "GB01": "GBP", "DE01": "EUR"}
# The weights add up to 100, and a new model takes its share from the last one, so that a
# seed's contracts keep the models they had before it (all but a few retainers).
BILLING_MODELS = [
    ("time_and_materials", 60),
    ("fixed_fee", 15),
    ("milestone", 15),
    ("retainer", 6),
    ("managed_services", 4),
]
ENGAGEMENTS = [
    "ERP Rollout",
    "Cloud Migration",
    "Data Platform",
    "Finance Transformation",
    "Security Assessment",
    "CRM Implementation",
    "Supply Chain Review",
    "Analytics Roadmap",
]
TASKS = [
    "Workshop with the finance team",
    "Requirements and process mapping",
    "Configuration and unit testing",
    "Data migration dry run",
    "Steering committee preparation",
    "Integration testing",
    "Status report and planning",
    "User training",
]
UNKNOWN_ENTITIES = ["FR01", "NL01", "XX01"]
ROLES_ON_NO_CARD = ["Solution Architect", "Data Scientist"]
HOURS = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 4.0, 5.0, 6.0, 7.5, 8.0]
# A second currency for each contract currency, and its units of the contract's currency.
SECOND_CURRENCY = {"USD": ("EUR", "1.0850"), "GBP": ("EUR", "0.8600"), "EUR": ("GBP", "1.1700")}
EXPENSES = {
    "travel": ["Flight to the client", "Train ticket", "Taxi from the airport", "Car rental"],
    "lodging": ["Hotel, 2 nights", "Hotel, 1 night", "Serviced apartment, 4 nights"],
    "meals": ["Working lunch", "Team dinner"],
}
NOT_REBILLED = "entertainment"


@dataclass(frozen=True)
class TrafficEvent:
    """One canonical event, the system that sends it, and what it is meant to test."""

    system: str
    event: dict[str, Any]
    scenario: str = OK
    phase: int = PHASE_MASTER_DATA


@dataclass(frozen=True)
class TrafficRequest:
    """One signed POST to ``/api/v1/inbound/<system>/``."""

    system: str
    events: list[dict[str, Any]]
    phase: int


@dataclass
class TrafficPlan:
    seed: int
    start: date
    events: list[TrafficEvent] = field(default_factory=list)

    def requests(self, *, batch_size: int = 100) -> list[TrafficRequest]:
        """The events by phase, then by system in order of appearance, in batches."""
        requests: list[TrafficRequest] = []
        for phase in sorted({item.phase for item in self.events}):
            by_system: dict[str, list[dict[str, Any]]] = {}
            for item in self.events:
                if item.phase == phase:
                    by_system.setdefault(item.system, []).append(item.event)
            for system, events in by_system.items():
                for offset in range(0, len(events), batch_size):
                    requests.append(
                        TrafficRequest(system, events[offset : offset + batch_size], phase)
                    )
        return requests

    def count_by_type(self) -> Counter[str]:
        return Counter(item.event["type"] for item in self.events)

    def count_by_scenario(self) -> Counter[str]:
        return Counter(item.scenario for item in self.events)

    @property
    def unique_event_count(self) -> int:
        return len({(item.system, item.event["id"]) for item in self.events})


def working_days(start: date, count: int) -> list[date]:
    """``count`` working days (Monday to Friday) from ``start`` on."""
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def window_start(*, end: date, days: int) -> date:
    """The first of ``days`` working days that all fall before ``end``."""
    day = end
    remaining = max(days, 1)
    while remaining:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def _stamp(day: date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"


def _money(value: Decimal | int | float) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


@dataclass
class _Contract:
    index: int
    number: str
    project: str
    customer: str
    legal_entity: str
    currency: str
    rate_card: str
    rates: dict[str, int]
    data: dict[str, Any]
    correlation_id: str
    assignments: list[dict[str, Any]] = field(default_factory=list)


class _Builder:
    def __init__(self, *, seed: int, start: date, days: int, volume: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.tag = f"{seed % 10000:04d}"
        self.start = start
        self.days = working_days(start, days)
        self.volume = volume
        self.plan = TrafficPlan(seed=seed, start=start)
        self._next_id = 0
        # The last version sent per business key, and running numbers per project.
        self.versions: Counter[str] = Counter()
        self.sequence: Counter[str] = Counter()
        self.cards = {code: (entity, lines) for code, _, _, entity, lines in RATE_CARDS}
        self.card_of_entity = {entity: code for code, _, _, entity, _ in RATE_CARDS}
        self.customers = {number: (name, entity) for number, name, entity, _ in CUSTOMERS}
        self.resources = {number: (name, role, entity) for number, name, role, entity in RESOURCES}
        self.contracts: list[_Contract] = []
        self.extra_contracts = 0
        # Expenses draw from a stream of their own, so that the rest stays as it was.
        self.expense_rng = random.Random(f"expenses-{seed}")

    # --- events ---------------------------------------------------------------------

    def event(
        self,
        system: str,
        event_type: str,
        data: dict[str, Any],
        *,
        occurred_at: str,
        version: int = 1,
        scenario: str = OK,
        phase: int,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        event: dict[str, Any] = {
            "type": event_type,
            "id": f"sim-{self.seed}-{self._next_id:06d}",
            "occurred_at": occurred_at,
            "version": version,
            "data": data,
        }
        if correlation_id:
            event["correlation_id"] = correlation_id
        self.plan.events.append(TrafficEvent(system, event, scenario, phase))
        return event

    def master_data(self) -> None:
        day = self.start - timedelta(days=7)
        for number, (name, role, entity) in self.resources.items():
            _, lines = self.cards[self.card_of_entity[entity]]
            cost = Decimal(lines.get(role, 150)) * Decimal("0.45")
            self.event(
                "hris",
                "resource.upserted",
                {
                    "employee_number": number,
                    "name": name,
                    "email": f"{number.lower()}@example.com",
                    "role": role,
                    "legal_entity": entity,
                    "cost_rate": _money(cost),
                    "active": True,
                    "external_id": f"WD-{number}",
                },
                occurred_at=_stamp(day, 8, 15),
                phase=PHASE_MASTER_DATA,
            )
        for number, (name, entity) in self.customers.items():
            self.event(
                "crm",
                "customer.upserted",
                {
                    "number": number,
                    "name": name,
                    "legal_entity": entity,
                    "currency": ENTITY_CURRENCY[entity],
                    "active": True,
                    "external_id": f"001{number.replace('-', '')}",
                    "tax_code": CUSTOMER_TERMS[number][0],
                    "payment_terms": CUSTOMER_TERMS[number][1],
                },
                occurred_at=_stamp(day, 8, 30),
                phase=PHASE_MASTER_DATA,
            )

    def contract_terms(
        self, index: int, *, customer: str, legal_entity: str | None = None
    ) -> _Contract:
        name, entity = self.customers.get(customer, ("Unknown Prospect Inc.", "US01"))
        entity = legal_entity or entity
        card = self.card_of_entity.get(entity, self.card_of_entity["US01"])
        _, lines = self.cards[card]
        currency = ENTITY_CURRENCY.get(entity, "EUR")
        number = f"K-{self.tag}-{index:03d}"
        project = f"P-{self.tag}-{index:03d}"
        model = self.rng.choices(
            [m for m, _ in BILLING_MODELS], weights=[w for _, w in BILLING_MODELS]
        )[0]
        end = self.start + timedelta(days=180)
        data: dict[str, Any] = {
            "number": number,
            "customer": customer,
            "legal_entity": entity,
            "currency": currency,
            "billing_model": model,
            "start_date": self.start.isoformat(),
            "end_date": end.isoformat(),
            "rate_card": card,
            "project": {"code": project, "name": f"{name} {self.rng.choice(ENGAGEMENTS)}"},
            "signed_at": _stamp(self.start - timedelta(days=3), 14, 5),
            "external_id": f"ENV-{self.tag}-{index:03d}",
            # From the index, not a random draw: the rest of the traffic stays as it was.
            "expense_categories": ["lodging", "travel"] + (["meals"] if index % 2 else []),
            "expense_markup_percent": [0, 5, 10][index % 3],
        }
        if model == "time_and_materials" and self.rng.random() < 0.5:
            data["cap_amount"] = _money(self.rng.randrange(50, 400) * 1000)
        if model == "retainer":
            cap = self.rng.randrange(10, 60) * 1000
            data["cap_amount"] = _money(cap)
            # An eighth of the cap as the monthly fee, for 40 h; drawn from no new random
            # number, so that the rest of the traffic stays as it was.
            data["monthly_fee"] = _money(Decimal(cap) / 8)
            data["included_hours"] = 40
            data["unused_hours_roll_over"] = index % 2 == 0
        if model == "managed_services":
            # The same draw a retainer makes (the random stream stays as it was): a monthly
            # fee of an eighth of it, no cap, time not billed.
            data["monthly_fee"] = _money(Decimal(self.rng.randrange(10, 60) * 1000) / 8)
        if model in ("fixed_fee", "milestone"):
            total = self.rng.randrange(60, 300) * 1000
            shares = [Decimal("0.3"), Decimal("0.4"), Decimal("0.3")]
            data["milestones"] = [
                {
                    "code": f"M{n + 1}",
                    "name": title,
                    "due_date": (self.start + timedelta(days=60 * (n + 1))).isoformat(),
                    "amount": _money(Decimal(total) * share),
                }
                for n, (title, share) in enumerate(
                    zip(["Kick-off", "Design sign-off", "Go-live"], shares, strict=True)
                )
            ]
        return _Contract(
            index=index,
            number=number,
            project=project,
            customer=customer,
            legal_entity=entity,
            currency=currency,
            rate_card=card,
            rates=dict(lines),
            data=data,
            correlation_id=f"sim-{self.seed}-{number}",
        )

    def contract_signed(self, contract: _Contract, *, scenario: str = OK) -> None:
        self.event(
            "clm",
            "contract.signed",
            contract.data,
            occurred_at=_stamp(self.start - timedelta(days=3), 14, 6),
            scenario=scenario,
            phase=PHASE_CONTRACTS,
            correlation_id=contract.correlation_id,
        )

    def milestones_reached(self) -> None:
        """Each fixed-fee and milestone contract's kick-off (its first milestone) reached on
        the window's first working day, and each later one on its due date when that falls
        in the window; drawn from no random number, so the rest of the traffic stays as it was."""
        for contract in self.contracts:
            for n, milestone in enumerate(contract.data.get("milestones") or []):
                reached = self.days[0] if n == 0 else date.fromisoformat(milestone["due_date"])
                if reached > self.days[-1]:
                    continue
                self.event(
                    "clm",
                    "milestone.reached",
                    {
                        "contract": contract.number,
                        "code": milestone["code"],
                        "reached_on": reached.isoformat(),
                    },
                    occurred_at=_stamp(reached, 17, 30),
                    phase=PHASE_TIME,
                    correlation_id=contract.correlation_id,
                )

    def contract_amended(
        self, contract: _Contract, *, scenario: str = OK, phase: int = PHASE_CHANGES
    ) -> None:
        effective = self.days[len(self.days) // 2]
        raised = {role: rate + 10 for role, rate in contract.rates.items()}
        data = {
            **contract.data,
            "rates": [{"role": role, "rate": rate} for role, rate in sorted(raised.items())],
            "effective_date": effective.isoformat(),
            "amendment": "AMD-01",
            "signed_at": _stamp(effective - timedelta(days=1), 16, 40),
            "external_id": f"{contract.data['external_id']}-A1",
        }
        if "cap_amount" in data:
            data["cap_amount"] = _money(Decimal(data["cap_amount"]) * Decimal("1.2"))
        self.event(
            "clm",
            "contract.amended",
            data,
            occurred_at=_stamp(effective - timedelta(days=1), 16, 41),
            version=2,
            scenario=scenario,
            phase=phase,
            correlation_id=contract.correlation_id,
        )

    def assignment(
        self,
        contract: _Contract,
        resource: str,
        *,
        role: str | None = None,
        scenario: str = OK,
    ) -> dict[str, Any]:
        role = role or self.resources[resource][1]
        number = f"A-{self.tag}-{contract.index:03d}-{len(contract.assignments) + 1}"
        data: dict[str, Any] = {
            "number": number,
            "project": contract.project,
            "resource": resource,
            "role": role,
            "start_date": contract.data["start_date"],
            "end_date": contract.data["end_date"],
            "allocation_percent": self.rng.choice([25, 50, 50, 75, 100]),
            "external_id": f"psa-asg-{self.tag}{contract.index:03d}{len(contract.assignments) + 1}",
        }
        if role in contract.rates:
            data["bill_rate"] = contract.rates[role]
        self.versions[number] = 1
        self.event(
            "psa",
            "assignment.upserted",
            data,
            occurred_at=_stamp(self.start - timedelta(days=2), 10, 0),
            scenario=scenario,
            phase=PHASE_STAFFING,
            correlation_id=contract.correlation_id,
        )
        contract.assignments.append(data)
        return data

    def time_entry(
        self,
        contract: _Contract,
        assignment: dict[str, Any],
        day: date,
        *,
        scenario: str = OK,
        phase: int = PHASE_TIME,
    ) -> None:
        key = f"time-{contract.project}"
        self.sequence[key] += 1
        approved = day + timedelta(days=1)
        hours = self.rng.choice(HOURS)
        # The PSA is half way to schema version 2 of time entries (hours as a decimal
        # string): the odd contracts' entries are sent in it, the others in version 1.
        upgraded = contract.index % 2 == 1
        sent = self.event(
            "psa",
            "time_entry.approved",
            {
                "number": f"TE-{self.tag}-{contract.index:03d}-{self.sequence[key]:05d}",
                "project": contract.project,
                "resource": assignment["resource"],
                "work_date": day.isoformat(),
                "hours": f"{hours:.2f}" if upgraded else hours,
                "billable": self.rng.random() > 0.08,
                "approved_at": _stamp(approved, 9, self.rng.randrange(0, 60)),
                "notes": self.rng.choice(TASKS),
            },
            occurred_at=_stamp(approved, 9, 59),
            scenario=scenario,
            phase=phase,
            correlation_id=contract.correlation_id,
        )
        if upgraded:
            sent["schema_version"] = 2

    def expense_report(self, contract: _Contract, *, scenario: str = OK) -> None:
        """An approved report of the first assigned consultant: two to four lines in the
        categories the contract rebills, some in a second currency, some not billable; the
        bad scenario adds a billable line in a category no contract rebills."""
        rng = self.expense_rng
        key = f"expense-{contract.project}"
        self.sequence[key] += 1
        allowed = contract.data["expense_categories"]
        second, rate = SECOND_CURRENCY[contract.currency]
        lines = []
        for _ in range(rng.randint(2, 4)):
            billable = rng.random() > 0.25
            category = rng.choice(allowed if billable else list(EXPENSES))
            line: dict[str, Any] = {
                "category": category,
                "amount": _money(Decimal(rng.randrange(1500, 60000)) / 100),
                "billable": billable,
                "incurred_on": rng.choice(self.days).isoformat(),
                "description": rng.choice(EXPENSES[category]),
                "receipt_reference": f"RCPT-{self.tag}-{rng.randrange(10000, 99999)}",
            }
            if rng.random() < 0.35:
                line |= {"currency": second, "exchange_rate": rate}
            lines.append(line)
        if scenario == EXPENSE_CATEGORY_NOT_ALLOWED:
            lines.append(
                {
                    "category": NOT_REBILLED,
                    "amount": _money(Decimal(rng.randrange(5000, 30000)) / 100),
                    "billable": True,
                    "incurred_on": self.days[-1].isoformat(),
                    "description": "Client hospitality",
                    "receipt_reference": f"RCPT-{self.tag}-{rng.randrange(10000, 99999)}",
                }
            )
        approved = self.days[-1] + timedelta(days=1)
        self.event(
            "psa",
            "expense_report.approved",
            {
                "number": f"EXR-{self.tag}-{contract.index:03d}-{self.sequence[key]:02d}",
                "project": contract.project,
                "resource": contract.assignments[0]["resource"],
                "currency": contract.currency,
                "approved_at": _stamp(approved, 11, rng.randrange(0, 60)),
                "lines": lines,
            },
            occurred_at=_stamp(approved, 11, 59),
            scenario=scenario,
            phase=PHASE_TIME,
            correlation_id=contract.correlation_id,
        )

    # --- the plan -------------------------------------------------------------------

    def good_contracts(self, count: int) -> None:
        customers = list(self.customers)
        for index in range(1, count + 1):
            contract = self.contract_terms(index, customer=self.rng.choice(customers))
            self.contracts.append(contract)
            self.contract_signed(contract)
            eligible = [
                number for number, (_, role, _) in self.resources.items() if role in contract.rates
            ]
            for resource in self.rng.sample(eligible, k=min(len(eligible), self.rng.randint(1, 3))):
                self.assignment(contract, resource)
            for day in self.days:
                for n in range(self.volume):
                    assignment = contract.assignments[n % len(contract.assignments)]
                    self.time_entry(contract, assignment, day)
        for contract in self.contracts:
            if self.rng.random() < 1 / 3:
                self.contract_amended(contract)
        for contract in self.contracts:
            if contract.index == 1 or self.expense_rng.random() < 0.5:
                self.expense_report(contract)

    def _new_contract_index(self) -> int:
        self.extra_contracts += 1
        return 900 + self.extra_contracts

    def bad(self, scenario: str) -> bool:
        """Adds one bad scenario; False when it needs a good contract and there is none."""
        needs_contract = (
            MISSING_RATE_CARD,
            CLOSED_PROJECT,
            OUT_OF_ORDER,
            EXPENSE_CATEGORY_NOT_ALLOWED,
        )
        if scenario in needs_contract and not self.contracts:
            return False
        if scenario == DUPLICATE:
            originals = [
                item
                for item in self.plan.events
                if item.phase < PHASE_RESENDS and item.scenario == OK
            ]
            if not originals:
                return False
            original = self.rng.choice(originals)
            self.plan.events.append(
                TrafficEvent(original.system, original.event, DUPLICATE, PHASE_RESENDS)
            )
        elif scenario == MISSING_RATE_CARD:
            contract = self.rng.choice(self.contracts)
            if "Analyst" not in contract.rates:
                resource, role = "E-0005", "Analyst"
            else:
                resource, role = (
                    self.rng.choice(["E-0002", "E-0003"]),
                    self.rng.choice(ROLES_ON_NO_CARD),
                )
            assignment = self.assignment(contract, resource, role=role, scenario=scenario)
            self.time_entry(contract, assignment, self.days[-1], scenario=scenario)
        elif scenario == INVALID_LEGAL_ENTITY:
            customer = self.rng.choice(list(self.customers))
            contract = self.contract_terms(
                self._new_contract_index(),
                customer=customer,
                legal_entity=self.rng.choice(UNKNOWN_ENTITIES),
            )
            self.contract_signed(contract, scenario=scenario)
        elif scenario == UNKNOWN_CUSTOMER:
            index = self._new_contract_index()
            contract = self.contract_terms(index, customer=f"C-9{self.tag[-2:]}{index % 100:02d}")
            self.contract_signed(contract, scenario=scenario)
        elif scenario == CLOSED_PROJECT:
            contract = self.rng.choice(self.contracts)
            closed_on = self.days[-1]
            key = f"project-{contract.project}"
            self.versions[key] = max(self.versions[key], 1) + 1
            self.event(
                "psa",
                "project.upserted",
                {
                    "code": contract.project,
                    "name": contract.data["project"]["name"],
                    "status": "closed",
                    "end_date": closed_on.isoformat(),
                },
                occurred_at=_stamp(closed_on, 18, 0),
                version=self.versions[key],
                scenario=scenario,
                phase=PHASE_CHANGES,
                correlation_id=contract.correlation_id,
            )
            late_day = closed_on + timedelta(days=3 if closed_on.weekday() == 4 else 1)
            self.time_entry(
                contract,
                contract.assignments[0],
                late_day,
                scenario=scenario,
                phase=PHASE_LATE,
            )
        elif scenario == OUT_OF_ORDER:
            contract = self.rng.choice(self.contracts)
            assignment = self.rng.choice(contract.assignments)
            number = assignment["number"]
            older, newer = self.versions[number] + 1, self.versions[number] + 2
            self.versions[number] = newer
            day = self.days[-1]
            for version, allocation, phase, minute in (
                (newer, 100, PHASE_CHANGES, 30),
                (older, 50, PHASE_LATE, 10),
            ):
                self.event(
                    "psa",
                    "assignment.upserted",
                    {**assignment, "allocation_percent": allocation},
                    occurred_at=_stamp(day, 11, minute),
                    version=version,
                    scenario=scenario,
                    phase=phase,
                    correlation_id=contract.correlation_id,
                )
        elif scenario == AMENDMENT_BEFORE_CONTRACT:
            customer = self.rng.choice(list(self.customers))
            contract = self.contract_terms(self._new_contract_index(), customer=customer)
            self.contract_amended(contract, scenario=scenario, phase=PHASE_EARLY)
            self.contract_signed(contract, scenario=scenario)
        elif scenario == EXPENSE_CATEGORY_NOT_ALLOWED:
            self.expense_report(self.rng.choice(self.contracts), scenario=scenario)
        return True


def traffic_build(
    *,
    contracts: int,
    days: int,
    volume: int,
    error_share: float,
    seed: int,
    start: date,
) -> TrafficPlan:
    """The events of a run: master data, ``contracts`` contracts with their staffing,
    ``volume`` approved time entries per contract and working day over ``days`` working
    days from ``start``, and ``error_share`` of that count again as bad scenarios,
    taken in turn from ``BAD_SCENARIOS`` in an order the seed shuffles."""
    if contracts < 0 or days < 1 or volume < 0:
        raise ValueError("contracts and volume must be 0 or more, days 1 or more.")
    if not 0 <= error_share <= 1:
        raise ValueError("error_share must be between 0 and 1.")
    builder = _Builder(seed=seed, start=start, days=days, volume=volume)
    builder.master_data()
    builder.good_contracts(contracts)
    wanted = round(error_share * len(builder.plan.events))
    if error_share > 0 and wanted == 0:
        wanted = 1
    order = list(BAD_SCENARIOS)
    builder.rng.shuffle(order)
    added = attempts = 0
    while added < wanted and attempts < wanted * 3 + len(order):
        if builder.bad(order[attempts % len(order)]):
            added += 1
        attempts += 1
    # Last, so that the bad scenarios' share and the random stream are as they were.
    builder.milestones_reached()
    return builder.plan
