from __future__ import annotations

import pytest

from controltower.operations.demo import demo_load
from integrations.adapters import adapter_for
from integrations.models import ConnectedSystem

pytestmark = pytest.mark.django_db

VENDOR_SYSTEMS = {
    "salesforce": ("crm", "salesforce"),
    "docusign": ("clm", "docusign"),
    "harvest": ("time", "harvest"),
    "bamboohr": ("hris", "bamboohr"),
    "workday": ("hris", "workday"),
}


def test_the_demo_connects_each_vendor_system_with_its_adapter(demo):
    for slug, (kind, adapter) in VENDOR_SYSTEMS.items():
        system = ConnectedSystem.objects.get(slug=slug)
        assert (system.kind, system.adapter) == (kind, adapter)
        assert adapter_for(system).name == adapter
        assert system.inbound_secrets() == [f"demo-{slug}-secret"]
    assert ConnectedSystem.objects.get(slug="crm").adapter == "canonical"


def test_loading_the_demo_again_leaves_existing_systems_untouched(demo):
    ConnectedSystem.objects.filter(slug="workday").update(name="Workday (EU tenant)", enabled=False)
    count = ConnectedSystem.objects.count()
    demo_load()
    assert ConnectedSystem.objects.count() == count
    workday = ConnectedSystem.objects.get(slug="workday")
    assert (workday.name, workday.enabled) == ("Workday (EU tenant)", False)
