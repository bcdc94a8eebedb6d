"""The traffic generator: schema-valid events, good and bad, accepted by the tower."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.core.management import call_command

from integrations.adapters.canonical import CanonicalAdapter
from integrations.models import Transaction
from simulator import traffic
from simulator.traffic import BAD_SCENARIOS, traffic_build

START = date(2026, 11, 2)  # a Monday


def small_plan(**overrides) -> traffic.TrafficPlan:
    options = {
        "contracts": 3,
        "days": 2,
        "volume": 2,
        "error_share": 0.3,
        "seed": 11,
        "start": START,
    }
    return traffic_build(**{**options, **overrides})


def test_every_generated_event_fits_the_towers_schemas():
    adapter = CanonicalAdapter()
    plan = small_plan(contracts=6, days=5, volume=3, error_share=0.5)
    for item in plan.events:
        adapter.validate_normalized(item.event)  # raises EventRejected otherwise


def test_time_entries_are_sent_in_both_schema_versions_and_read_alike():
    adapter = CanonicalAdapter()
    entries = [
        item.event for item in small_plan().events if item.event["type"] == "time_entry.approved"
    ]
    read = [adapter.validate_normalized(entry) for entry in entries]
    assert {event.schema_version for event in read} == {1, 2}
    assert all(isinstance(event.normalized["data"]["hours"], str) for event in read)


def test_the_same_seed_builds_the_same_events_and_another_seed_others():
    assert small_plan().events == small_plan().events
    assert small_plan().events != small_plan(seed=12).events


def test_the_plan_holds_every_event_type_and_bad_scenario():
    plan = small_plan()
    assert set(plan.count_by_type()) == {
        "resource.upserted",
        "customer.upserted",
        "contract.signed",
        "contract.amended",
        "assignment.upserted",
        "time_entry.approved",
        "project.upserted",
        "expense_report.approved",
        "milestone.reached",
    }
    assert set(BAD_SCENARIOS) <= set(plan.count_by_scenario())


def test_the_traffic_holds_every_billing_model_and_a_monthly_fee_for_managed_services():
    plan = small_plan(contracts=40, days=1, volume=0, error_share=0)
    signed = [item.event["data"] for item in plan.events if item.event["type"] == "contract.signed"]
    assert {data["billing_model"] for data in signed} == {
        "time_and_materials",
        "fixed_fee",
        "milestone",
        "retainer",
        "managed_services",
    }
    managed = [data for data in signed if data["billing_model"] == "managed_services"]
    assert all(data["monthly_fee"] and "cap_amount" not in data for data in managed)


def test_fixed_fee_and_milestone_contracts_reach_their_kick_off_in_the_window():
    plan = small_plan(contracts=40, days=3, volume=0, error_share=0)
    by_number = {
        item.event["data"]["number"]: item.event["data"]["billing_model"]
        for item in plan.events
        if item.event["type"] == "contract.signed"
    }
    reached = [
        item.event["data"] for item in plan.events if item.event["type"] == "milestone.reached"
    ]
    assert reached
    assert {by_number[data["contract"]] for data in reached} == {"fixed_fee", "milestone"}
    # Later milestones fall due 60 days on, past a three-day window: only the kick-offs.
    assert {(data["code"], data["reached_on"]) for data in reached} == {("M1", "2026-11-02")}
    assert len(reached) == sum(1 for m in by_number.values() if m in ("fixed_fee", "milestone"))


def test_volume_time_entries_per_contract_and_working_day_are_good():
    plan = small_plan(contracts=4, days=3, volume=5, error_share=0)
    good_time = [
        item
        for item in plan.events
        if item.event["type"] == "time_entry.approved" and item.scenario == traffic.OK
    ]
    assert len(good_time) == 4 * 3 * 5
    assert {item.event["data"]["work_date"] for item in good_time} == {
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
    }
    assert plan.count_by_scenario() == {traffic.OK: len(plan.events)}


def categories_of(plan: traffic.TrafficPlan, report: traffic.TrafficEvent) -> list[str]:
    [contract] = [
        item.event["data"]
        for item in plan.events
        if item.event["type"] == "contract.signed"
        and item.event["data"]["project"]["code"] == report.event["data"]["project"]
    ]
    return contract["expense_categories"]


def test_good_expense_reports_rebill_allowed_categories_some_in_a_second_currency():
    plan = small_plan(contracts=6, days=5, volume=1, error_share=0)
    reports = [item for item in plan.events if item.event["type"] == "expense_report.approved"]
    assert reports and all(item.scenario == traffic.OK for item in reports)
    lines = [line for item in reports for line in item.event["data"]["lines"]]
    for item in reports:
        allowed = categories_of(plan, item)
        assert all(
            line["category"] in allowed for line in item.event["data"]["lines"] if line["billable"]
        )
    assert any("exchange_rate" in line for line in lines)
    assert any(not line["billable"] for line in lines)


def test_expenses_leave_the_rest_of_the_traffic_as_it_was():
    plan = small_plan(error_share=0)
    # Expense reports and reached milestones were added to the plan after every event it
    # made before: those keep their ids.
    added_later = ("expense_report.approved", "milestone.reached")
    others = [item for item in plan.events if item.event["type"] not in added_later]
    assert [item.event["id"] for item in others] == [
        f"sim-11-{n:06d}" for n in range(1, len(others) + 1)
    ]


def test_time_skips_weekends_and_the_window_ends_before_its_end():
    assert traffic.working_days(date(2026, 11, 6), 2) == [date(2026, 11, 6), date(2026, 11, 9)]
    assert traffic.window_start(end=date(2026, 11, 9), days=2) == date(2026, 11, 5)


def test_bad_scenarios_carry_what_they_are_named_after():
    plan = small_plan(contracts=4, error_share=0.6)
    by = {}
    for item in plan.events:
        by.setdefault(item.scenario, []).append(item)
    assert any(
        e.event["data"].get("legal_entity") not in {"US01", "GB01", "DE01"}
        for e in by["invalid_legal_entity"]
    )
    assert all(e.event["data"]["customer"].startswith("C-9") for e in by["unknown_customer"])
    closed = [e for e in by["closed_project"] if e.event["type"] == "project.upserted"]
    assert closed and all(e.event["data"]["status"] == "closed" for e in closed)
    for duplicate in by["duplicate"]:
        originals = [e for e in plan.events if e.event["id"] == duplicate.event["id"]]
        assert len(originals) >= 2 and originals[0].scenario == traffic.OK
    amendment, signed = by["amendment_before_contract"][:2]
    assert (
        amendment.event["type"] == "contract.amended" and signed.event["type"] == "contract.signed"
    )
    assert amendment.phase < signed.phase
    for bad_report in by["expense_category_not_allowed"]:
        assert any(
            line["billable"] and line["category"] not in categories_of(plan, bad_report)
            for line in bad_report.event["data"]["lines"]
        )
    newer, older = by["out_of_order"][:2]
    assert newer.event["version"] > older.event["version"] and newer.phase < older.phase
    # Requests go out phase by phase, so the amendment precedes its contract on the wire.
    phases = [request.phase for request in plan.requests(batch_size=5)]
    assert phases == sorted(phases)


@pytest.mark.django_db(transaction=True)
def test_generate_traffic_sends_events_the_tower_accepts_and_duplicates_answer_200(
    live_server, demo
):
    out = io.StringIO()
    call_command(
        "generate_traffic",
        contracts=2,
        days=2,
        volume=2,
        error_share=0.5,
        seed=5,
        start=START,
        tower_url=live_server.url,
        phase_pause=0,
        stdout=out,
    )
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["refused"] == 0
    assert set(summary["status_counts"]) == {"200", "202"}
    assert summary["accepted"] == summary["unique_events"]
    assert summary["duplicates"] == summary["events"] - summary["unique_events"] > 0
    assert summary["by_scenario"]["ok"] < summary["events"]
    assert Transaction.objects.count() == summary["unique_events"]
    assert "answers:" in out.getvalue()
