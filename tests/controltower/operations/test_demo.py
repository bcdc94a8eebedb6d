"""The demo's operations configuration: teams, rules and SLA policies to try the queues with."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from controltower.operations.models import OwnershipRule, SlaPolicy, Team
from controltower.operations.services.routing import team_for

pytestmark = pytest.mark.django_db


def test_load_demo_sets_up_teams_rules_and_valid_sla_policies_once():
    call_command("load_demo")
    call_command("load_demo")
    assert Team.objects.count() == 4 and Team.objects.get(is_default=True).name == (
        "Integration support"
    )
    assert team_for(flow="time_to_billing").name == "Finance operations"
    assert team_for(flow="contract_to_project").name == "Integration support"
    assert team_for(exception_type="resource_over_allocated").name == "Resource management"
    assert team_for(exception_type="resource_unavailable").name == "Resource management"
    assert team_for(exception_type="contract_nearing_end").name == "Finance operations"
    assert OwnershipRule.objects.count() == 11
    for policy in SlaPolicy.objects.all():
        policy.full_clean()
    assert Team.objects.get(name="Finance operations").members.filter(username="approver").exists()
