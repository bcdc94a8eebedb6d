"""A firm's own DocuSign custom field names, and the mapping that reads them."""

from __future__ import annotations

import copy
from typing import Any

from tests.integrations.adapters.support import document

# This firm's envelope custom fields, by the names the default mapping expects.
FIRM_NAMES = {
    "Contract_Number": "Agreement No.",
    "Customer_Number": "Client ID",
    "Legal_Entity": "Billing Entity",
    "Currency": "Contract Currency",
    "Billing_Model": "Engagement Type",
    "Start_Date": "Effective Date",
    "End_Date": "Expiry Date",
    "Rate_Card": "Rate Card",
    "Cap_Amount": "Not-to-exceed",
    "Project_Code": "Engagement Code",
    "Project_Name": "Engagement Name",
}
CUSTOM = "data.envelopeSummary.customFields.*[name={}].value"


def firm_envelope() -> dict[str, Any]:
    """DocuSign's envelope-completed, as this firm's template names its custom fields."""
    message = copy.deepcopy(document("docusign", "envelope_completed.json"))
    fields = message["data"]["envelopeSummary"]["customFields"]
    for field in fields["textCustomFields"] + fields["listCustomFields"]:
        field["name"] = FIRM_NAMES[field["name"]]
    return message


def firm_mapping() -> dict[str, Any]:
    def custom(name: str) -> str:
        return CUSTOM.format(f'"{name}"' if " " in name or "." in name else name)

    return {
        "fields": [
            {"field": "number", "source": custom("Agreement No."), "required": True},
            {"field": "customer", "source": custom("Client ID")},
            {"field": "legal_entity", "source": custom("Billing Entity")},
            {"field": "currency", "source": custom("Contract Currency")},
            {
                "field": "billing_model",
                "source": custom("Engagement Type"),
                "transform": "billing_model",
            },
            {"field": "start_date", "source": custom("Effective Date")},
            {"field": "end_date", "source": custom("Expiry Date")},
            {"field": "cap_amount", "source": custom("Not-to-exceed"), "transform": "money"},
            {"field": "project.code", "source": custom("Engagement Code")},
            {"field": "project.name", "source": custom("Engagement Name")},
        ]
    }
