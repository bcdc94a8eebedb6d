"""The staffing rules: the role priced, the dates inside the project's, the person still with
the firm, and nobody planned above 100 % without the resource managers hearing of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from canonical.choices import RuleCode
from canonical.errors import RuleViolation
from canonical.services.delivery import assignment_upsert
from canonical.services.staffing import resource_over_allocation, working_days
from tests.factories.canonical import (
    AssignmentFactory,
    ContractFactory,
    ContractVersionFactory,
    ProjectFactory,
    RateCardLineFactory,
    ResourceFactory,
)

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def project():
    """P-STAFF: 1 March to 30 June 2027 under contract K-STAFF (to 30 June), Consultant 150/h."""
    line = RateCardLineFactory(role="Consultant", rate=Decimal("150.00"))
    contract = ContractFactory(
        number="K-STAFF",
        rate_card=line.rate_card,
        currency="USD",
        start_date=D(2027, 3, 1),
        end_date=D(2027, 6, 30),
    )
    ContractVersionFactory(contract=contract, version=1, terms={"rates": {"Architect": "210"}})
    return ProjectFactory(
        code="P-STAFF", contract=contract, start_date=D(2027, 3, 1), end_date=D(2027, 6, 30)
    )


@pytest.fixture
def consultant():
    return ResourceFactory(employee_number="E-7001", role="Consultant")


def staff(project, resource, number="A-7001", **values):
    terms = {
        "role": "Consultant",
        "start_date": D(2027, 3, 1),
        "end_date": D(2027, 3, 31),
        "allocation_percent": 100,
        "bill_rate": None,
        **values,
    }
    return assignment_upsert(
        number=number,
        project_code=project.code,
        employee_number=resource.employee_number,
        version=terms.pop("version", 1),
        source_system="psa",
        **terms,
    )


def test_working_days_count_monday_to_friday():
    assert working_days(D(2027, 3, 1), D(2027, 3, 7)) == 5  # Monday to Sunday
    assert working_days(D(2027, 2, 15), D(2027, 2, 28)) == 10
    assert working_days(D(2027, 3, 6), D(2027, 3, 7)) == 0  # a weekend
    assert working_days(D(2027, 3, 2), D(2027, 3, 1)) == 0


# --- the role on the rate card -------------------------------------------------------


def test_a_role_neither_the_rate_card_nor_the_contract_prices_is_refused(project, consultant):
    with pytest.raises(RuleViolation) as refused:
        staff(project, consultant, role="Partner")
    assert refused.value.code == RuleCode.MISSING_RATE_CARD
    card = project.contract.rate_card.code
    assert refused.value.message == (
        f"No Partner rate for project P-STAFF: rate card {card} has no Partner line."
    )
    assert refused.value.waiting_on == f"rate_card:{card}:PARTNER"


def test_a_role_priced_by_the_contract_itself_or_by_the_assignment_is_staffed(project, consultant):
    assert staff(project, consultant, role="Architect").outcome == "applied"
    own = staff(project, consultant, number="A-7002", role="Partner", bill_rate=Decimal("400"))
    assert own.outcome == "applied" and own.record.bill_rate == Decimal("400")


# --- the project's dates -------------------------------------------------------------


def test_an_assignment_starting_before_its_project_is_parked_with_both_dates_and_the_money(
    project, consultant
):
    with pytest.raises(RuleViolation) as refused:
        staff(project, consultant, start_date=D(2027, 2, 15), allocation_percent=50)
    violation = refused.value
    assert violation.code == RuleCode.ASSIGNMENT_OUTSIDE_PROJECT
    # 15 to 26 February: 10 working days x 8 h x 50 % = 40 h at 150.00.
    assert violation.message == (
        "Assignment A-7001 on project P-STAFF starts on 2027-02-15, before project P-STAFF "
        "starts on 2027-03-01. 6,000.00 USD of planned Consultant time falls outside."
    )
    assert (violation.money_at_risk, violation.currency) == (Decimal("6000.00"), "USD")
    assert violation.waiting_on == "project_dates:P-STAFF:A-7001"
    assert violation.details["window_start"] == "2027-03-01"


def test_an_assignment_ending_after_the_contract_names_the_contract_and_its_end(
    project, consultant
):
    project.end_date = None
    project.save()
    project.contract.end_date = D(2027, 5, 31)
    project.contract.save()
    with pytest.raises(RuleViolation) as refused:
        staff(
            project,
            consultant,
            start_date=D(2027, 5, 3),
            end_date=D(2027, 6, 11),
            bill_rate=Decimal("200.00"),
        )
    # 1 to 11 June: 9 working days x 8 h x 100 % = 72 h at the assignment's 200.00.
    assert refused.value.message == (
        "Assignment A-7001 on project P-STAFF ends on 2027-06-11, after contract K-STAFF ends "
        "on 2027-05-31. 14,400.00 USD of planned Consultant time falls outside."
    )
    assert refused.value.money_at_risk == Decimal("14400.00")


def test_the_earlier_of_the_project_and_contract_ends_bounds_the_assignment(project, consultant):
    project.end_date = D(2027, 4, 30)
    project.save()
    with pytest.raises(RuleViolation, match="after project P-STAFF ends on 2027-04-30"):
        staff(project, consultant, end_date=D(2027, 5, 7))


def test_an_assignment_without_an_end_runs_until_its_project_ends(project, consultant):
    result = staff(project, consultant, end_date=None)
    assert result.outcome == "applied" and result.record.end_date is None


# --- the person still with the firm ---------------------------------------------------


def test_an_assignment_for_someone_who_left_the_firm_is_parked_until_the_hris_says_otherwise(
    project, consultant
):
    consultant.active = False
    consultant.save()
    with pytest.raises(RuleViolation) as refused:
        staff(project, consultant, end_date=D(2027, 3, 26), allocation_percent=50)
    violation = refused.value
    assert violation.code == RuleCode.RESOURCE_UNAVAILABLE
    # 1 to 26 March: 20 working days x 8 h x 50 % = 80 h at 150.00.
    assert violation.message == (
        "Assignment A-7001 staffs E-7001 on project P-STAFF from 2027-03-01, but the HRIS marks "
        "E-7001 inactive (no longer with the firm). 12,000.00 USD of planned Consultant time "
        "has nobody."
    )
    assert violation.money_at_risk == Decimal("12000.00")
    assert violation.waiting_on == "resource:E-7001"


# --- over 100 % across projects -------------------------------------------------------


def test_overlapping_assignments_above_100_percent_are_an_over_allocation_with_its_weeks(
    project, consultant
):
    other = ProjectFactory(
        code="P-OTHER", contract=project.contract, start_date=D(2027, 3, 1), end_date=None
    )
    staff(project, consultant, number="A-1")  # 1 to 31 March, 100 %, 150.00
    assert resource_over_allocation(resource=consultant) is None
    staff(
        other,
        consultant,
        number="A-2",
        start_date=D(2027, 3, 15),
        end_date=D(2027, 4, 9),
        allocation_percent=50,
        bill_rate=Decimal("200.00"),
    )
    over = resource_over_allocation(resource=consultant)
    assert (over.week, over.total, over.weeks) == (D(2027, 3, 15), 150, 3)
    assert over.assignments == (("A-1", "P-STAFF", 100), ("A-2", "P-OTHER", 50))
    # 15 to 31 March: 13 working days x 8 h x 50 % over = 52 h at the lower rate, 150.00.
    assert (over.money_at_risk, over.currency) == (Decimal("7800.00"), "USD")
    assert over.message == (
        "Resource E-7001 is allocated 150 % in the week of 2027-03-15: A-1 on P-STAFF 100 %, "
        "A-2 on P-OTHER 50 %. Over 100 % in 3 weeks. 7,800.00 USD of planned time cannot all "
        "be delivered."
    )


def test_a_hand_over_in_mid_week_is_not_an_over_allocation(project, consultant):
    AssignmentFactory(
        number="A-1", project=project, resource=consultant, end_date=D(2027, 3, 3)
    )  # to Wednesday
    AssignmentFactory(
        number="A-2",
        project=project,
        resource=consultant,
        start_date=D(2027, 3, 4),
        end_date=D(2027, 3, 31),
    )  # from Thursday
    assert resource_over_allocation(resource=consultant) is None


def test_an_open_ended_over_allocation_says_so_and_prices_only_what_has_an_end(project, consultant):
    project.end_date = None
    project.save()
    project.contract.end_date = None
    project.contract.save()
    AssignmentFactory(number="A-1", project=project, resource=consultant, allocation_percent=60)
    AssignmentFactory(number="A-2", project=project, resource=consultant, allocation_percent=60)
    over = resource_over_allocation(resource=consultant)
    assert (over.week, over.total, over.weeks, over.open_ended) == (D(2027, 3, 1), 120, 0, True)
    assert over.money_at_risk is None
    assert over.message == (
        "Resource E-7001 is allocated 120 % in the week of 2027-03-01: A-1 on P-STAFF 60 %, "
        "A-2 on P-STAFF 60 %. Over 100 % with no end date."
    )
