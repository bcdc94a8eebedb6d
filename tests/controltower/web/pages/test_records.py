"""The record view: a record's id, version and freshness in every system, its diff against
each system's own copy (read from the simulated ERP and PSA over real HTTP), re-push, and a
resource's link to its Harvest user."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from canonical.models import Contract, Project, Resource
from controltower.operations.choices import SlaKind
from controltower.operations.models import AuditEvent
from integrations.choices import FlowKind, SyncOutcome, TransactionState
from integrations.models import ConnectedSystem, SyncState, Transaction
from integrations.services.processing import transactions_process
from tests.factories.canonical import (
    AssignmentFactory,
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    LegalEntityFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
)
from tests.factories.operations import FlowTransactionFactory, SlaPolicyFactory
from tests.support.inbound import contract_event, signed_post

ROLES = ["viewer", "operator", "approver", "admin"]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sync_state(record, system_slug: str, **values) -> SyncState:
    return SyncState.objects.create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        system=ConnectedSystem.objects.get(slug=system_slug),
        **{"outcome": SyncOutcome.SYNCED, "synced_at": timezone.now(), **values},
    )


def time_entry(project: Project, **values):
    assignment = AssignmentFactory(project=project, resource=ResourceFactory())
    return TimeEntryFactory(assignment=assignment, **values)


def copy_of(page, slug: str):
    return next(row["copy"] for row in page.context["copies"] if row["copy"].system.slug == slug)


# Against the simulated ERP and PSA, over real HTTP


@pytest.fixture
def signed_contract(simulator) -> Project:
    response = signed_post(Client(), "clm", contract_event("K-5001"))
    assert response.status_code == 202, response.content
    transactions_process(ids=response.json()["transaction_ids"])
    return Project.objects.get(code="P-K-5001")


@pytest.mark.django_db(transaction=True)
def test_a_project_is_compared_with_the_copies_the_erp_and_the_psa_hold(
    signed_contract, user_with_role
):
    page = signed_in(user_with_role("viewer")).get(f"/records/project/{signed_contract.pk}/")
    assert page.status_code == 200
    erp, psa = copy_of(page, "erp"), copy_of(page, "psa")
    for copy in (erp, psa):
        assert copy.source == "remote" and copy.freshness.status == "current"
        assert copy.differences == 0 and not copy.unreachable
    compared = {d.name: (d.canonical, d.theirs) for d in erp.diff if d.compared}
    assert compared["code"] == ("P-K-5001", "P-K-5001")
    assert compared["contract"] == ("K-5001", "K-5001")
    assert compared["end_date"] == ("2027-06-30", "2027-06-30")
    assert compared["status"] == ("active", "active")  # NetSuite's "In Progress"
    # What a system does not hold is named once, not compared row by row.
    assert (
        f"Not held in {erp.system.name}: Customer, Billable, Billing hold, Time billed up to."
        in (page.text)
    )
    assert "Re-push" not in page.text  # a viewer


@pytest.mark.django_db(transaction=True)
def test_a_copy_changed_in_the_psa_shows_and_a_re_push_puts_it_right(
    signed_contract, simulator, user_with_role
):
    operator = user_with_role("operator")
    client = signed_in(operator)
    project = signed_contract
    psa_id = SyncState.objects.get(object_id=project.pk, system__slug="psa").external_id
    changed = simulator.patch(f"/psa/api/v1/projects/{psa_id}", json={"name": "Renamed in PSA"})
    assert changed.status_code == 200

    page = client.get(f"/records/project/{project.pk}/")
    psa = copy_of(page, "psa")
    assert [(d.name, d.theirs) for d in psa.diff if not d.same] == [("name", "Renamed in PSA")]
    assert "1 differ" in page.text and "Differs" in page.text
    assert psa.freshness.status == "current"  # the tower's records say it holds v1
    assert "Re-push" in page.text

    response = client.post(
        f"/records/project/{project.pk}/repush/",
        {"system": "psa", "reason": "Someone renamed it in the PSA"},
        follow=True,
    )
    tx = Transaction.objects.get(event_type="record.repush")
    assert f"Queued transaction {tx.pk} to push P-K-5001 to PSA again" in response.text
    assert (tx.target_system.slug, tx.business_key, tx.flow.kind) == (
        "psa",
        "P-K-5001",
        FlowKind.CONTRACT_TO_PROJECT,
    )
    assert tx.correlation_id == project.contract.correlation_id
    audit = AuditEvent.objects.get(action="record.repush")
    assert audit.actor == operator and audit.reason == "Someone renamed it in the PSA"
    assert audit.after == {"system": "psa", "transaction": tx.pk}

    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert "PATCH" in tx.attempts.get().outbound_summary
    assert simulator.get(f"/psa/api/v1/projects/{psa_id}").json()["name"] == project.name
    page = client.get(f"/records/project/{project.pk}/")
    assert copy_of(page, "psa").differences == 0
    state = SyncState.objects.get(object_id=project.pk, system__slug="psa")
    assert state.outcome == SyncOutcome.SYNCED and state.last_transaction_id == tx.pk


@pytest.mark.django_db(transaction=True)
def test_a_contract_is_re_pushed_as_its_projects(signed_contract, simulator, user_with_role):
    client = signed_in(user_with_role("operator"))
    contract = Contract.objects.get(number="K-5001")
    page = client.get(f"/records/contract/{contract.pk}/")
    assert copy_of(page, "clm").source == "event"  # the CLM sent it
    assert f'href="/records/project/{signed_contract.pk}/"' in page.text
    job_id = SyncState.objects.get(object_id=signed_contract.pk, system__slug="erp").external_id
    simulator.patch(f"/erp/services/rest/record/v1/job/{job_id}", json={"companyName": "Oops"})
    client.post(f"/records/contract/{contract.pk}/repush/", {"system": "erp"})
    tx = Transaction.objects.get(event_type="record.repush")
    assert tx.normalized["data"] == {"record_type": "contract", "key": "K-5001", "system": "erp"}
    transactions_process(ids=[tx.pk])
    job = simulator.get(f"/erp/services/rest/record/v1/job/{job_id}").json()
    assert job["companyName"] == signed_contract.name


@pytest.mark.django_db(transaction=True)
def test_the_customer_and_contract_pages_show_the_tax_code_terms_and_bill_to(
    signed_contract, user_with_role
):
    from canonical.models import Customer

    acme = Customer.objects.get(number="C-1001")  # the demo's: US-EXEMPT, NET30
    child = CustomerFactory(number="C-3001", legal_entity=acme.legal_entity, parent=acme)
    client = signed_in(user_with_role("viewer"))

    page = client.get(f"/records/customer/{child.pk}/")
    assert page.status_code == 200
    terms = page.context["billing_terms"]
    assert (terms.bill_to, terms.tax_code, terms.tax_code_from) == (
        acme,
        "US-EXEMPT",
        "the bill-to account",
    )
    assert "Tax, terms and bill-to" in page.text
    assert f'href="/records/customer/{acme.pk}/"' in page.text
    erp = copy_of(client.get(f"/records/customer/{acme.pk}/"), "erp")
    compared = {d.name: (d.canonical, d.theirs) for d in erp.diff if d.compared}
    assert compared["payment_terms"] == ("NET30", "NET30")  # as the ERP's customer holds them

    Contract.objects.filter(number="K-5001").update(payment_terms="NET90")
    contract = Contract.objects.get(number="K-5001")
    page = client.get(f"/records/contract/{contract.pk}/")
    terms = page.context["billing_terms"]
    assert (terms.payment_terms, terms.payment_terms_from) == ("NET90", "the contract")
    assert terms.accepted == {"tax_code": True, "payment_terms": False}
    assert "Not accepted by the ERP" in page.text


@pytest.mark.django_db(transaction=True)
def test_a_system_that_answers_with_an_error_is_named_and_the_others_still_compared(
    signed_contract, simulator, user_with_role
):
    simulator.put("/erp/_faults", json={"outage": True})
    page = signed_in(user_with_role("viewer")).get(f"/records/project/{signed_contract.pk}/")
    erp = copy_of(page, "erp")
    assert "Could not read the copy in ERP" in erp.unreachable and "answered 503" in erp.unreachable
    assert "Could not reach" in page.text
    assert copy_of(page, "psa").source == "remote"


# Without the simulator


@pytest.fixture
def project(demo) -> Project:
    ConnectedSystem.objects.filter(slug__in=["erp", "psa"]).update(base_url=UNREACHABLE)
    customer = CustomerFactory(number="C-8801", legal_entity=LegalEntityFactory(code="US99"))
    contract = ContractFactory(number="K-8801", customer=customer, correlation_id="corr-8801")
    return ProjectFactory(code="P-8801", contract=contract, customer=customer)


@pytest.mark.django_db
def test_a_system_that_does_not_answer_is_said_plainly(project, operator):
    sync_state(project, "erp", external_id="17", last_version=1)
    page = signed_in(operator).get(f"/records/project/{project.pk}/")
    erp = copy_of(page, "erp")
    # The ERP signs in with OAuth 2.0 first: its token endpoint is what does not answer.
    assert erp.unreachable.startswith(
        "Could not reach ERP: ERP's token endpoint http://127.0.0.1:9/"
    )
    assert "Could not reach:" in page.text
    psa = copy_of(page, "psa")  # the tower writes projects there, and it holds none
    assert psa.state is None and psa.freshness.status == "missing"
    assert "PSA does not hold this project yet." in page.text


@pytest.mark.django_db
def test_freshness_is_measured_against_the_sla_that_applies(project, operator):
    Project.objects.filter(pk=project.pk).update(
        version=3, updated_at=timezone.now() - dt.timedelta(hours=5)
    )
    sync_state(project, "erp", external_id="17", last_version=1)
    client = signed_in(operator)

    page = client.get(f"/records/project/{project.pk}/")  # the flow's own SLA: 4 h
    assert page.context["view"].sla_name == "Contract to project flow"
    erp = copy_of(page, "erp")
    assert (erp.freshness.status, erp.freshness.behind, erp.freshness.sla_state) == (
        "behind",
        2,
        "breached",
    )
    assert "2 versions behind" in page.text and "SLA breached" in page.text

    SlaPolicyFactory(
        name="Projects within a day",
        kind=SlaKind.FLOW,
        flow=FlowKind.CONTRACT_TO_PROJECT,
        event_type="contract.signed",
        target_minutes=24 * 60,
    )
    page = client.get(f"/records/project/{project.pk}/")
    assert page.context["view"].sla_name == "Projects within a day"
    assert copy_of(page, "erp").freshness.sla_state == "within"
    assert "Within SLA" in page.text


@pytest.mark.django_db
def test_a_sender_is_compared_with_the_last_event_it_sent(demo, operator):
    resource = Resource.objects.get(employee_number="E-0001")
    sent = FlowTransactionFactory(
        kind=FlowKind.MASTER_DATA_SYNC,
        event_type="resource.upserted",
        source_system=ConnectedSystem.objects.get(slug="hris"),
        normalized={
            "type": "resource.upserted",
            "data": {"employee_number": "E-0001", "name": "Ada King", "role": "Partner"},
        },
    )
    sync_state(resource, "hris", external_id="WD-1", last_version=1, last_transaction=sent)
    page = signed_in(operator).get(f"/records/resource/{resource.pk}/")
    hris = copy_of(page, "hris")
    assert hris.source == "event"
    assert [(d.name, d.canonical, d.theirs) for d in hris.diff if not d.same] == [
        ("name", "Ada Byron", "Ada King")
    ]
    assert not next(d for d in hris.diff if d.name == "email").compared  # not in the event
    assert f"transaction #{sent.pk}" in page.text


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_a_persons_name_e_mail_and_cost_are_masked_on_the_record_page_unless_finance_or_admin(
    role, demo, user_with_role
):
    resource = Resource.objects.get(employee_number="E-0001")
    resource.email, resource.cost_rate = "ada@example.com", "95.00"
    resource.save()
    sent = FlowTransactionFactory(
        kind=FlowKind.MASTER_DATA_SYNC,
        event_type="resource.upserted",
        source_system=ConnectedSystem.objects.get(slug="hris"),
        normalized={
            "type": "resource.upserted",
            "data": {"employee_number": "E-0001", "name": "Ada King", "role": "Partner"},
        },
    )
    sync_state(resource, "hris", external_id="WD-1", last_version=1, last_transaction=sent)

    page = signed_in(user_with_role(role)).get(f"/records/resource/{resource.pk}/")

    sees = role in ("approver", "admin")
    for value in ("Ada Byron", "Ada King", "ada@example.com", "95.00"):
        assert (value in page.text) is sees, value
    assert "E-0001" in page.text
    [name] = [row for row in page.context["copies"][0]["compared"] if row["label"] == "Name"]
    assert not name["same"]  # that the HRIS differs is said to every role
    assert (name["canonical"], name["theirs"]) == (
        ("Ada Byron", "Ada King") if sees else ("•••", "•••")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_an_invoice_amount_and_a_contract_cap_are_masked_unless_finance_or_admin(
    role, project, user_with_role
):
    project.contract.cap_amount = "123456.00"
    project.contract.save()
    invoice = InvoiceFactory(project=project, amount="4321.00")
    client = signed_in(user_with_role(role))

    contract_page = client.get(f"/records/contract/{project.contract.pk}/")
    invoice_page = client.get(f"/records/invoice/{invoice.pk}/")

    sees = role in ("approver", "admin")
    assert ("123456.00" in contract_page.text) is sees
    assert ("4321.00" in invoice_page.text) is sees
    assert ("•••" in invoice_page.text) is not sees


@pytest.mark.django_db
def test_a_harvest_time_entry_names_its_user_by_the_linked_id(project, operator):
    harvest = ConnectedSystem.objects.get(slug="harvest")
    entry = time_entry(project, hours="7.50")
    sync_state(entry.resource, "harvest", external_id="4120587")
    sent = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        source_system=harvest,
        normalized={
            "type": "time_entry.approved",
            "data": {"number": entry.number, "resource": "HARVEST-4120587", "hours": 7.25},
        },
    )
    sync_state(entry, "harvest", external_id=entry.number, last_version=1, last_transaction=sent)
    page = signed_in(operator).get(f"/records/time-entry/{entry.pk}/")
    diff = {d.name: d for d in copy_of(page, "harvest").diff}
    assert diff["resource"].same and diff["resource"].canonical == "HARVEST-4120587"
    assert not diff["hours"].same and diff["hours"].theirs == "7.25"
    assert diff["number"].same


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_role_opens_every_kind_of_record_and_only_operators_see_the_actions(
    role, project, user_with_role
):
    client = signed_in(user_with_role(role))
    entry = time_entry(project)
    invoice = InvoiceFactory(project=project)
    resource = Resource.objects.get(employee_number="E-0002")
    pages = {
        "contract": project.contract.pk,
        "project": project.pk,
        "resource": resource.pk,
        "time-entry": entry.pk,
        "invoice": invoice.pk,
    }
    for kind, pk in pages.items():
        page = client.get(f"/records/{kind}/{pk}/")
        assert page.status_code == 200, kind
        may_act = role != "viewer" and kind in ("contract", "project")
        assert (f"/records/{kind}/{pk}/repush/" in page.text) is may_act, kind
    link_page = client.get(f"/records/resource/{resource.pk}/")
    assert (f"/records/resource/{resource.pk}/link/" in link_page.text) is (role != "viewer")


@pytest.mark.django_db
def test_a_viewer_gets_403_on_re_push_and_on_linking(project, user_with_role):
    client = signed_in(user_with_role("viewer"))
    resource = Resource.objects.get(employee_number="E-0002")
    assert (
        client.post(f"/records/project/{project.pk}/repush/", {"system": "erp"}).status_code == 403
    )
    assert (
        client.post(
            f"/records/resource/{resource.pk}/link/", {"system": "harvest", "external_id": "1"}
        ).status_code
        == 403
    )
    assert not Transaction.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_re_push_refusals_come_from_the_service_and_are_shown(project, operator):
    client = signed_in(operator)
    client.post(f"/records/project/{project.pk}/repush/", {"system": "erp"})
    again = client.post(f"/records/project/{project.pk}/repush/", {"system": "erp"})
    assert again.status_code == 409
    tx = Transaction.objects.get(event_type="record.repush")
    assert f"A re-push of P-8801 to ERP is already queued (transaction {tx.pk})." in again.text

    loose = ProjectFactory(
        code="P-LOOSE", contract=None, customer=project.customer, legal_entity=project.legal_entity
    )
    refused = client.post(f"/records/project/{loose.pk}/repush/", {"system": "psa"})
    assert refused.status_code == 400
    assert "Project P-LOOSE has no contract" in refused.text

    wrong = client.post(f"/records/project/{project.pk}/repush/", {"system": "crm"})
    assert wrong.status_code == 400 and Transaction.objects.count() == 1

    resource = Resource.objects.get(employee_number="E-0001")
    nothing = client.post(f"/records/resource/{resource.pk}/repush/", {"system": "erp"})
    assert nothing.status_code == 400 and Transaction.objects.count() == 1


@pytest.mark.django_db
def test_the_api_re_pushes_a_project_or_a_contract_and_refuses_what_it_cannot(
    project, operator, user_with_role, api_client_for
):
    api = api_client_for(operator)
    queued = api.post(
        f"/api/v1/projects/{project.pk}/repush/", {"system": "psa", "reason": "fixed by hand"}
    )
    assert queued.status_code == 202, queued.content
    tx = Transaction.objects.get(pk=queued.json()["id"])
    assert (tx.event_type, tx.business_key, tx.target_system.slug) == (
        "record.repush",
        "P-8801",
        "psa",
    )
    assert AuditEvent.objects.get(action="record.repush").reason == "fixed by hand"

    again = api.post(f"/api/v1/projects/{project.pk}/repush/", {"system": "psa"})
    assert again.status_code == 409 and f"transaction {tx.pk}" in again.json()["message"]
    contract = api.post(f"/api/v1/contracts/{project.contract_id}/repush/", {"system": "erp"})
    assert contract.status_code == 202
    unknown = api.post(f"/api/v1/projects/{project.pk}/repush/", {"system": "nowhere"})
    assert unknown.status_code == 400 and "nowhere" in unknown.json()["message"]
    missing = api.post(f"/api/v1/projects/{project.pk}/repush/", {})
    assert missing.status_code == 400 and "system" in missing.json()["errors"]
    viewer = api_client_for(user_with_role("viewer"))
    assert (
        viewer.post(f"/api/v1/projects/{project.pk}/repush/", {"system": "erp"}).status_code == 403
    )
    assert Transaction.objects.filter(event_type="record.repush").count() == 2


@pytest.mark.django_db
def test_an_operator_links_a_resource_to_its_harvest_user_and_a_taken_id_is_refused(demo, operator):
    client = signed_in(operator)
    ada = Resource.objects.get(employee_number="E-0001")
    grace = Resource.objects.get(employee_number="E-0002")
    response = client.post(
        f"/records/resource/{ada.pk}/link/",
        {"system": "harvest", "external_id": "4120587"},
        follow=True,
    )
    assert "Linked E-0001 to harvest user 4120587" in response.text
    assert copy_of(response, "harvest").state.external_id == "4120587"
    assert AuditEvent.objects.get(action="resource.link").after == {"harvest": "4120587"}

    taken = client.post(
        f"/records/resource/{grace.pk}/link/", {"system": "harvest", "external_id": "4120587"}
    )
    assert taken.status_code == 409
    assert "Harvest id 4120587 is already linked to E-0001." in taken.text
    empty = client.post(f"/records/resource/{grace.pk}/link/", {"system": "harvest"})
    assert empty.status_code == 400


@pytest.mark.django_db
def test_an_operator_links_a_project_to_its_harvest_project_and_a_contract_cannot_be(
    project, operator
):
    client = signed_in(operator)
    page = client.get(f"/records/project/{project.pk}/")
    assert "Link to a time system project" in page.text
    response = client.post(
        f"/records/project/{project.pk}/link/",
        {"system": "harvest", "external_id": "41221045"},
        follow=True,
    )
    assert "Linked P-8801" in response.text and "harvest project 41221045" in response.text
    assert AuditEvent.objects.get(action="project.link").after == {"harvest": "41221045"}
    contract = client.post(
        f"/records/contract/{project.contract_id}/link/",
        {"system": "harvest", "external_id": "1"},
    )
    assert contract.status_code == 404


@pytest.mark.django_db
def test_a_record_is_found_by_its_business_key(project, operator):
    client = signed_in(operator)
    found = client.get("/records/?kind=project&key=p-8801")
    assert found.status_code == 302 and found["Location"] == f"/records/project/{project.pk}/"
    missing = client.get("/records/?kind=contract&key=K-0000")
    assert missing.status_code == 404
    assert "There is no contract K-0000 in the tower." in missing.text
    assert client.get("/records/nothing/1/").status_code == 404
    assert client.get("/records/project/999999/").status_code == 404


@pytest.mark.django_db
def test_the_transaction_detail_links_to_its_record(demo, operator):
    contract = ContractFactory(number="K-8900", customer=CustomerFactory(number="C-8900"))
    tx = FlowTransactionFactory(event_type="contract.signed", business_key="K-8900")
    page = signed_in(operator).get(f"/transactions/{tx.pk}/")
    assert f'href="/records/contract/{contract.pk}/"' in page.text


@pytest.mark.django_db
def test_the_record_page_takes_a_bounded_number_of_queries(
    project, operator, django_assert_max_num_queries
):
    ConnectedSystem.objects.filter(slug__in=["erp", "psa"]).update(base_url="")
    sync_state(project, "clm", external_id="ENV-1", last_version=1)
    client = signed_in(operator)
    client.get(f"/records/project/{project.pk}/")
    with django_assert_max_num_queries(16):
        assert client.get(f"/records/project/{project.pk}/").status_code == 200


@pytest.mark.django_db
def test_a_page_that_is_not_there_is_answered_in_the_towers_layout(operator):
    response = signed_in(operator).get("/no-such-page/")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    assert "Nothing is at <code>/no-such-page/</code>" in response.text
    # The layout: the navigation and the way back.
    assert 'href="/exceptions/"' in response.text and "Back to the overview" in response.text
