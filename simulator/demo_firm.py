"""The demo firm's master data as the simulated systems hold it: customers in the CRM,
people in the HRIS, and the rate cards the firm's contracts are priced on.

The simulated HRIS starts with the people as BambooHR employees (``hris_employees``), and
each simulated ERP is given the payment terms and tax codes it accepts per subsidiary
(``erp_code_records``) before demo traffic is sent.

The traffic generator (``traffic.py``) builds its events on these: contracts for these
customers on these rate cards, staffed by these people. It must match the demo data the
tower loads (``controltower/operations/demo.py``: ``CUSTOMERS``, ``RATE_CARDS``, ``RESOURCES``), or
the generated traffic would name customers, rate card lines and people the tower does
not know and every good event would turn into a business exception.

It is a copy on purpose: the simulator stands for other vendors' systems, which reach
the tower only over HTTP and share no code with it. When the tower's demo data changes,
change this with it.
"""

from __future__ import annotations

from typing import Any

# number, name, legal entity, currency
CUSTOMERS: list[tuple[str, str, str, str]] = [
    ("C-1001", "Acme Corporation", "US01", "USD"),
    ("C-1002", "Globex Ltd", "GB01", "GBP"),
    ("C-1003", "Initech GmbH", "DE01", "EUR"),
    ("C-1004", "Umbrella Health", "US01", "USD"),
    ("C-1005", "Stark Industries", "US01", "USD"),
]
# number: (tax code, payment terms), as the CRM holds them; each one its legal entity's
# ERP accepts (``ERP_TERMS``, ``ERP_TAX_CODES``).
CUSTOMER_TERMS: dict[str, tuple[str, str]] = {
    "C-1001": ("US-EXEMPT", "NET30"),
    "C-1002": ("GB-S20", "NET30"),
    "C-1003": ("DE-S19", "NET30"),
    "C-1004": ("US-EXEMPT", "NET45"),
    "C-1005": ("US-EXEMPT", "NET60"),
}
# The ERP's payment terms (NetSuite ``term``) per subsidiary: code, name, days until due.
ERP_TERMS: dict[str, list[tuple[str, str, int]]] = {
    "US01": [("NET30", "Net 30", 30), ("NET45", "Net 45", 45), ("NET60", "Net 60", 60)],
    "GB01": [("NET30", "Net 30", 30), ("NET60", "Net 60", 60)],
    "DE01": [("NET14", "Net 14", 14), ("NET30", "Net 30", 30)],
}
# The ERP's tax codes (NetSuite ``salesTaxItem``) per subsidiary: code, description, rate.
ERP_TAX_CODES: dict[str, list[tuple[str, str, str]]] = {
    "US01": [("US-EXEMPT", "Professional services, not taxed", "0.00")],
    "GB01": [("GB-S20", "UK VAT standard rate", "20.00"), ("GB-Z", "UK VAT zero rate", "0.00")],
    "DE01": [("DE-S19", "USt. Regelsatz", "19.00"), ("DE-RC", "Reverse charge", "0.00")],
}
# code, name, currency, legal entity, {role: hourly rate}
RATE_CARDS: list[tuple[str, str, str, str, dict[str, int]]] = [
    (
        "RC-US-STD",
        "US standard",
        "USD",
        "US01",
        {"Partner": 450, "Manager": 300, "Consultant": 190, "Analyst": 120},
    ),
    (
        "RC-GB-STD",
        "UK standard",
        "GBP",
        "GB01",
        {"Partner": 380, "Manager": 250, "Consultant": 160},
    ),
    (
        "RC-DE-STD",
        "DE standard",
        "EUR",
        "DE01",
        {"Partner": 420, "Manager": 280, "Consultant": 175},
    ),
]
# employee number, name, role, legal entity
RESOURCES: list[tuple[str, str, str, str]] = [
    ("E-0001", "Ada Byron", "Partner", "US01"),
    ("E-0002", "Grace Hopper", "Manager", "US01"),
    ("E-0003", "Alan Turing", "Consultant", "GB01"),
    ("E-0004", "Emmy Noether", "Consultant", "DE01"),
    ("E-0005", "Katherine Johnson", "Analyst", "US01"),
]


def hris_employees() -> list[dict[str, str]]:
    """The people as the simulated HRIS holds them: BambooHR fields by alias."""
    employees = []
    for number, name, role, entity in RESOURCES:
        first, _, last = name.partition(" ")
        employees.append(
            {
                "employeeNumber": number,
                "firstName": first,
                "lastName": last,
                "workEmail": f"{number.lower()}@example.com",
                "jobTitle": role,
                "division": entity,
                "status": "Active",
            }
        )
    return employees


def erp_code_records() -> list[tuple[str, dict[str, Any]]]:
    """The ERP's payment terms and tax codes as NetSuite records: (kind, fields)."""
    records: list[tuple[str, dict[str, Any]]] = []
    for entity, terms in ERP_TERMS.items():
        for code, name, days in terms:
            records.append(
                (
                    "term",
                    {
                        "externalId": code,
                        "name": name,
                        "daysUntilNetDue": days,
                        "subsidiary": {"id": entity},
                        "isInactive": False,
                    },
                )
            )
    for entity, taxes in ERP_TAX_CODES.items():
        for code, description, rate in taxes:
            records.append(
                (
                    "salesTaxItem",
                    {
                        "externalId": code,
                        "itemId": code,
                        "description": description,
                        "rate": f"{rate}%",
                        "subsidiary": {"id": entity},
                        "isInactive": False,
                    },
                )
            )
    return records
