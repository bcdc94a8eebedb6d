"""The transaction explorer: every role reads it, operators act on it through the services,
filters are the API's, the CSV is what the page shows, and the queries stay bounded."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.test import Client
from django.utils import timezone

from controltower.operations.models import AuditEvent, BulkOperation
from integrations.choices import ErrorClass, FlowKind, TransactionState
from integrations.models import ConnectedSystem, Transaction
from tests.factories.canonical import ContractFactory, CustomerFactory, ProjectFactory
from tests.factories.operations import FlowTransactionFactory
from tests.integrations.adapters.support import document
from tests.support.inbound import contract_event, customer_event, event, events_send, signed_post

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "approver", "admin"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def traffic(demo) -> dict[str, Transaction]:
    """Real events through the inbound door: a success, a blocked one, a contract whose ERP
    push cannot reach the ERP (retry scheduled), a time entry for an unknown project."""
    # Nothing listens on the discard port: the ERP and PSA pushes fail fast and are retried.
    ConnectedSystem.objects.filter(slug__in=["erp", "psa"]).update(base_url="http://127.0.0.1:9")
    [ok] = events_send(customer_event("C-7001", name="Wayne Enterprises"), system="crm")
    [blocked] = events_send(customer_event("C-7002", legal_entity="ZZ99"), system="crm")
    [contract] = events_send(contract_event("K-7100", customer="C-1001"), system="clm")
    [time] = events_send(
        event(
            "time_entry.approved",
            {
                "number": "TE-7001",
                "project": "P-NOPE",
                "resource": "E-0001",
                "work_date": "2026-11-02",
                "hours": 7.5,
                "billable": True,
            },
        ),
        system="psa",
    )
    return {
        name: Transaction.objects.get(pk=pk)
        for name, pk in [("ok", ok), ("blocked", blocked), ("contract", contract), ("time", time)]
    }


# Who sees what


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_list_and_the_detail_and_only_operators_see_actions(
    role, traffic, user_with_role
):
    client = signed_in(user_with_role(role))
    listing = client.get("/transactions/")
    assert listing.status_code == 200
    assert f'href="/transactions/{traffic["blocked"].pk}/"' in listing.text
    detail = client.get(f"/transactions/{traffic['blocked'].pk}/")
    assert detail.status_code == 200
    assert "C-7002" in detail.text and "ZZ99" in detail.text
    may_act = role != "viewer"
    assert ("Retry the failed in this list" in listing.text) is may_act
    for words in ("Retry now", "Replay as received", "Replay with an edited payload", "Cancel"):
        assert (words in detail.text) is may_act, words
    assert ('method="post" action="/transactions/' in detail.text) is may_act


def test_a_viewer_gets_403_on_every_action_and_nothing_changes(traffic, user_with_role):
    client = signed_in(user_with_role("viewer"))
    pk = traffic["blocked"].pk
    for url, data in [
        (f"/transactions/{pk}/retry/", {"retry-reason": "x"}),
        (f"/transactions/{pk}/replay/", {"replay-reason": "x"}),
        (f"/transactions/{pk}/cancel/", {"cancel-reason": "x"}),
        ("/transactions/bulk-retry/?state=blocked", {"reason": "x"}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get("/transactions/bulk-retry/?state=blocked").status_code == 403
    assert Transaction.objects.get(pk=pk).state == TransactionState.BLOCKED
    assert Transaction.objects.count() == 4
    assert not AuditEvent.objects.exists()


def test_someone_signed_out_is_sent_to_sign_in():
    response = Client().get("/transactions/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/transactions/"


def test_an_unknown_transaction_is_not_found(operator):
    assert signed_in(operator).get("/transactions/999999/").status_code == 404


# Filters, business columns and CSV


def ids_on(response) -> set[int]:
    return {row.obj.pk for row in response.context["table"].rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=blocked", {"blocked", "time"}),
        ("state=blocked&state=retry_scheduled", {"blocked", "time", "contract"}),
        ("flow=contract_to_project", {"contract"}),
        ("flow=time_to_billing", {"time"}),
        ("source_system=crm", {"ok", "blocked"}),
        ("system=psa", {"time"}),
        ("business_key=K-7100", {"contract"}),
        # Part of a key, in any case.
        ("business_key=k-71", {"contract"}),
        ("business_key=te-70", {"time"}),
        ("contract=k-7100", {"contract"}),
        ("project=P-K-7100", {"contract"}),
        ("error_class=data", {"blocked", "time"}),
        ("error_class=transient", {"contract"}),
        ("error_code=unknown_project", {"time"}),
        ("customer=C-7002", {"blocked"}),
        ("event_type=customer.upserted", {"ok", "blocked"}),
    ],
)
def test_each_filter_narrows_the_list_as_the_api_does(
    query, expected, traffic, operator, api_client_for
):
    page = signed_in(operator).get(f"/transactions/?{query}")
    assert page.status_code == 200
    assert ids_on(page) == {traffic[name].pk for name in expected}
    api = api_client_for(operator).get(f"/api/v1/transactions/?{query}").json()
    assert {item["id"] for item in api["results"]} == ids_on(page)


def test_the_customer_filter_finds_the_lineage_of_its_contracts(traffic, operator):
    from canonical.models import Contract

    contract = Contract.objects.get(number="K-7100")
    replay = FlowTransactionFactory(
        event_type="time_entry.approved",
        business_key="TE-LINEAGE",
        correlation_id=contract.correlation_id,
        kind=FlowKind.TIME_TO_BILLING,
    )
    page = signed_in(operator).get("/transactions/?customer=c-1001")
    assert ids_on(page) == {traffic["contract"].pk, replay.pk}


def test_a_correlation_id_and_a_time_range_in_the_readers_zone_filter_too(traffic, operator):
    client = signed_in(operator)
    contract = traffic["contract"]
    page = client.get(f"/transactions/?correlation_id={contract.correlation_id}")
    assert ids_on(page) == {contract.pk}
    Transaction.objects.filter(pk=traffic["ok"].pk).update(
        received_at=timezone.now() - dt.timedelta(days=3)
    )
    client.cookies["tz"] = "America%2FNew_York"  # as the page's script writes it
    since = timezone.localtime(
        timezone.now() - dt.timedelta(days=1), timezone.get_fixed_timezone(-300)
    )
    page = client.get(f"/transactions/?received_after={since:%Y-%m-%dT%H:%M}")
    assert traffic["ok"].pk not in ids_on(page) and len(ids_on(page)) == 3


def test_an_unreadable_filter_says_so_and_shows_nothing(traffic, operator):
    page = signed_in(operator).get("/transactions/?received_after=yesterday")
    assert page.status_code == 400
    assert "a filter could not be read" in page.text
    assert ids_on(page) == set()


def test_the_business_columns_come_from_the_event_and_the_records_it_names(demo, operator):
    customer = CustomerFactory(number="C-8800", name="Soylent Corp")
    contract = ContractFactory(number="K-8800", customer=customer)
    project = ProjectFactory(code="P-8800", contract=contract, customer=customer)
    FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        business_key="TE-8800",
        normalized={"type": "time_entry.approved", "data": {"project": project.code, "hours": 6}},
    )
    FlowTransactionFactory(
        event_type="contract.signed",
        business_key="K-8801",
        normalized={
            "type": "contract.signed",
            "data": {
                "number": "K-8801",
                "customer": "C-8800",
                "cap_amount": "125000.00",
                "currency": "EUR",
            },
        },
    )
    page = signed_in(operator).get("/transactions/")
    rows = {row.obj.business_key: row.obj.business for row in page.context["table"].rows}
    assert rows["TE-8800"].customer_text == "C-8800 Soylent Corp"
    assert rows["TE-8800"].contract == "K-8800" and rows["TE-8800"].amount_text == "6 h"
    assert rows["K-8801"].customer_text == "C-8800 Soylent Corp"
    assert rows["K-8801"].amount_text == "125,000.00 EUR"


def test_the_csv_holds_exactly_the_filtered_rows_with_their_business_columns(traffic, operator):
    response = signed_in(operator).get("/transactions/?state=retry_scheduled&export=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="transactions.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["#"] for row in rows] == [str(traffic["contract"].pk)]
    row = rows[0]
    assert row["Business key"] == "K-7100" and row["Customer"] == "C-1001 Acme Corporation"
    assert row["Contract"] == "K-7100" and row["Amount"] == "•••"  # support sees no prices
    assert row["State"] == "Retry scheduled" and row["Error class"] == ErrorClass.TRANSIENT
    assert row["Correlation id"] == traffic["contract"].correlation_id
    assert row["Received"].endswith("+00:00")


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_a_transactions_amount_is_shown_to_finance_and_admins_and_its_hours_to_everyone(
    role, traffic, user_with_role
):
    client = signed_in(user_with_role(role))
    sees = role in ("approver", "admin")

    page = client.get("/transactions/")
    export = client.get("/transactions/?state=retry_scheduled&export=csv")
    detail = client.get(f"/transactions/{traffic['contract'].pk}/")

    cells = {
        row.obj.business_key: {cell.key: cell.content for cell in row.cells}
        for row in page.context["table"].rows
    }
    assert cells["K-7100"]["tx_amount"] == ("250,000.00 USD" if sees else "•••")
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    [row] = csv.DictReader(io.StringIO(text))
    assert row["Amount"] == ("250,000.00 USD" if sees else "•••")
    assert detail.context["amount_text"] == ("250,000.00 USD" if sees else "•••")
    hours = [c["tx_amount"] for c in cells.values() if str(c["tx_amount"]).endswith(" h")]
    assert hours  # time is not pricing: every role sees its hours


def test_the_list_sorts_by_received_and_pages(traffic, operator):
    client = signed_in(operator)
    oldest_first = client.get("/transactions/?sort=received")
    newest_first = client.get("/transactions/")
    order = [row.obj.pk for row in oldest_first.context["table"].rows]
    assert order == sorted(order)
    assert [row.obj.pk for row in newest_first.context["table"].rows] == order[::-1]
    FlowTransactionFactory.create_batch(30)
    second = client.get("/transactions/?page=2")
    assert len(second.context["table"].rows) == 34 - 25
    assert "Page 2 of 2" in second.text


def test_an_empty_explorer_says_where_transactions_come_from(operator):
    page = signed_in(operator).get("/transactions/")
    assert "No transactions yet" in page.text and "/api/v1/inbound/" in page.text
    filtered = signed_in(operator).get("/transactions/?business_key=K-0000")
    assert "No transactions match these filters" in filtered.text


def test_the_list_and_the_csv_take_the_same_few_queries_for_5_rows_or_60(
    operator, django_assert_max_num_queries
):
    client = signed_in(operator)

    def make(n: int) -> None:
        for i in range(n):
            project = ProjectFactory()
            FlowTransactionFactory(
                kind=FlowKind.TIME_TO_BILLING,
                event_type="time_entry.approved",
                business_key=f"TE-Q{i}-{Transaction.objects.count()}",
                normalized={"type": "time_entry.approved", "data": {"project": project.code}},
            )

    make(5)
    client.get("/transactions/")  # sessions, content types and the like cached
    with django_assert_max_num_queries(14):
        client.get("/transactions/?per=100")
    make(55)
    with django_assert_max_num_queries(14):
        assert len(client.get("/transactions/?per=100").context["table"].rows) == 60
    with django_assert_max_num_queries(14):
        b"".join(client.get("/transactions/?export=csv").streaming_content)


# The detail page


def test_the_detail_shows_payloads_attempts_error_exception_and_lineage(traffic, operator):
    contract = traffic["contract"]
    sibling = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        business_key="TE-SIBLING",
        correlation_id=contract.correlation_id,
    )
    page = signed_in(operator).get(f"/transactions/{contract.pk}/")
    assert page.status_code == 200
    text = page.text
    assert "Payload as received" in text and "Normalized event" in text
    assert "&quot;cap_amount&quot;: &quot;250000.00&quot;" in text  # pretty-printed, escaped
    assert "Attempt 1" in text and "Failed, will retry" in text
    assert "127.0.0.1:9" in text  # the outbound call that failed
    assert f'href="/transactions/{sibling.pk}/"' in text  # same correlation id
    assert 'href="/records/contract/' in text  # the contract it belongs to

    blocked = signed_in(operator).get(f"/transactions/{traffic['blocked'].pk}/")
    assert "Held by an exception" in blocked.text
    exception_id = traffic["blocked"].exception_id
    assert f"Exception #{exception_id}" in blocked.text


def test_a_refused_request_keeps_its_body_and_says_why(demo, operator):
    response = signed_post(Client(), "crm", {"type": "customer.upserted", "data": {}})
    assert response.status_code == 400
    rejected = Transaction.objects.get(state=TransactionState.REJECTED)
    page = signed_in(operator).get(f"/transactions/{rejected.pk}/")
    assert "Why it was refused" in page.text
    assert "refused at the door and never ran" in page.text
    assert "Replay as received" not in page.text  # nothing to replay: no normalized event


def test_a_thin_event_names_the_record_it_reads_from_its_source_on_the_page_and_in_the_api(
    demo, operator, api_client_for
):
    body = document("bamboohr", "event_employee_updated.json")  # BambooHR's event-based shape
    [tx_id] = signed_post(Client(), "bamboohr", body).json()["transaction_ids"]
    page = signed_in(operator).get(f"/transactions/{tx_id}/")
    assert "To read from the source" in page.text and "<code>67890</code>" in page.text
    assert api_client_for(operator).get(f"/api/v1/transactions/{tx_id}/").json()["fetch"] == "67890"


def test_the_detail_takes_a_bounded_number_of_queries(
    traffic, operator, django_assert_max_num_queries
):
    client = signed_in(operator)
    client.get(f"/transactions/{traffic['contract'].pk}/")
    with django_assert_max_num_queries(30):
        client.get(f"/transactions/{traffic['contract'].pk}/")


# Actions: the services decide, the page shows their answer


def test_an_operator_retries_a_blocked_transaction_and_it_is_audited(traffic, operator):
    blocked = traffic["blocked"]
    response = signed_in(operator).post(
        f"/transactions/{blocked.pk}/retry/", {"retry-reason": "ZZ99 now exists"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/transactions/{blocked.pk}/"
    assert f"Transaction {blocked.pk} is queued to run again" in response.text
    blocked.refresh_from_db()
    assert blocked.state == TransactionState.RECEIVED
    audit = AuditEvent.objects.get(action="transaction.retry")
    assert audit.actor == operator and audit.reason == "ZZ99 now exists"


def test_retrying_a_succeeded_transaction_is_refused_with_the_services_words(traffic, operator):
    ok = traffic["ok"]
    response = signed_in(operator).post(f"/transactions/{ok.pk}/retry/", {"retry-reason": ""})
    assert response.status_code == 409
    assert "is succeeded; only retry_scheduled, dead, blocked transactions can be retried" in (
        response.text
    )
    assert Transaction.objects.get(pk=ok.pk).state == TransactionState.SUCCEEDED


def test_cancelling_needs_a_reason_named_beside_its_field(traffic, operator):
    blocked = traffic["blocked"]
    client = signed_in(operator)
    refused = client.post(f"/transactions/{blocked.pk}/cancel/", {"cancel-reason": ""})
    assert refused.status_code == 400
    assert refused.context["forms"]["cancel"].errors["reason"] == ["This field is required."]
    assert "Not cancelled." in refused.text
    done = client.post(
        f"/transactions/{blocked.pk}/cancel/", {"cancel-reason": "Duplicate customer"}
    )
    assert done.status_code == 302
    blocked.refresh_from_db()
    assert blocked.state == TransactionState.CANCELLED
    assert AuditEvent.objects.get(action="transaction.cancel").reason == "Duplicate customer"


def test_a_replay_as_received_is_a_new_transaction_linked_to_the_first(traffic, operator):
    blocked = traffic["blocked"]
    response = signed_in(operator).post(
        f"/transactions/{blocked.pk}/replay/", {"replay-edit": "", "replay-reason": "once more"}
    )
    replay = Transaction.objects.get(parent=blocked)
    assert response.status_code == 302 and response["Location"] == f"/transactions/{replay.pk}/"
    assert replay.normalized == blocked.normalized
    page = signed_in(operator).get(f"/transactions/{blocked.pk}/")
    assert f'href="/transactions/{replay.pk}/"' in page.text


def test_an_edited_replay_is_checked_by_the_service_and_its_field_errors_shown(traffic, operator):
    blocked = traffic["blocked"]
    client = signed_in(operator)
    url = f"/transactions/{blocked.pk}/replay/"

    not_json = client.post(url, {"replay-edit": "on", "replay-payload": "{nope"})
    assert not_json.status_code == 400
    assert "This is not valid JSON" in not_json.text

    wrong = dict(blocked.normalized, data={**blocked.normalized["data"], "currency": "pounds"})
    refused = client.post(url, {"replay-edit": "on", "replay-payload": json.dumps(wrong)})
    assert refused.status_code == 400
    assert "The edited payload is invalid" in refused.text
    errors = refused.context["forms"]["replay"].errors["payload"]
    assert any(error.startswith("data.currency:") for error in errors)
    assert not Transaction.objects.filter(parent=blocked).exists()

    fixed = dict(
        blocked.normalized,
        data={**blocked.normalized["data"], "legal_entity": "GB01", "currency": "GBP"},
    )
    done = client.post(
        url,
        {"replay-edit": "on", "replay-payload": json.dumps(fixed), "replay-reason": "GB entity"},
    )
    replay = Transaction.objects.get(parent=blocked)
    assert done.status_code == 302 and replay.normalized["data"]["legal_entity"] == "GB01"
    assert AuditEvent.objects.get(action="transaction.replay_edited").reason == "GB entity"


def test_an_edited_replay_holding_a_nul_character_is_refused_naming_its_path(traffic, operator):
    blocked = traffic["blocked"]
    edited = dict(blocked.normalized, data={**blocked.normalized["data"], "name": "A\u0000B"})
    refused = signed_in(operator).post(
        f"/transactions/{blocked.pk}/replay/",
        {"replay-edit": "on", "replay-payload": json.dumps(edited)},
    )
    assert refused.status_code == 400
    assert refused.context["forms"]["replay"].errors["payload"] == [
        "data.name: Null characters are not allowed."
    ]
    assert not Transaction.objects.filter(parent=blocked).exists()


def test_an_edited_time_to_billing_replay_says_it_waits_for_a_second_approver(traffic, operator):
    time = traffic["time"]
    client = signed_in(operator)
    page = client.get(f"/transactions/{time.pk}/")
    assert "an edited replay waits for a second approver" in page.text
    edited = dict(time.normalized, data={**time.normalized["data"], "hours": "7.00"})
    response = client.post(
        f"/transactions/{time.pk}/replay/",
        {"replay-edit": "on", "replay-payload": json.dumps(edited), "replay-reason": "7 h"},
        follow=True,
    )
    replay = Transaction.objects.get(parent=time)
    assert replay.state == TransactionState.AWAITING_APPROVAL
    assert "waits for a second approver" in response.text


# Bulk retry


def test_bulk_retry_confirms_the_count_needs_a_reason_and_retries_only_the_filter(
    traffic, operator
):
    client = signed_in(operator)
    url = "/transactions/bulk-retry/?source_system=crm"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert confirm.context["count"] == 1  # the blocked customer; the succeeded one is not
    assert "Source system" in confirm.text and "crm" in confirm.text
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400 and "Nothing was retried." in refused.text
    done = client.post(url, {"reason": "ZZ99 created"})
    assert done.status_code == 302
    operation = BulkOperation.objects.get()
    assert done["Location"] == f"/transactions/bulk-retry/{operation.pk}/"
    assert operation.transaction_ids == [traffic["blocked"].pk] and operation.total == 1
    assert Transaction.objects.get(pk=traffic["blocked"].pk).state == TransactionState.RECEIVED
    assert Transaction.objects.get(pk=traffic["time"].pk).state == TransactionState.BLOCKED
    audit = AuditEvent.objects.get(action="transaction.bulk_retry")
    assert audit.after["operation"] == operation.pk and audit.reason == "ZZ99 created"
    assert audit.before["filter"] == "source_system=crm"
    progress = client.get(done["Location"])
    assert f"Bulk retry #{operation.pk}" in progress.text
    assert 'href="/transactions/?source_system=crm"' in progress.text


def test_bulk_retry_of_a_filter_with_nothing_to_retry_offers_nothing(traffic, operator):
    page = signed_in(operator).get("/transactions/bulk-retry/?state=succeeded")
    assert page.context["count"] == 0
    assert "Nothing in this list can be retried" in page.text
    assert "<button" not in page.text.split("<main", 1)[1]


def test_a_filter_is_saved_as_a_named_view_and_found_again(traffic, operator):
    client = signed_in(operator)
    saved = client.post(
        "/saved-views/",
        {
            "page": "transactions:list",
            "query": "state=blocked&flow=master_data_sync",
            "name": "Stuck",
        },
        follow=True,
    )
    assert ids_on(saved) == {traffic["blocked"].pk}
    page = client.get("/transactions/")
    assert "Stuck" in page.text
    assert 'href="/transactions/?state=blocked&amp;flow=master_data_sync"' in page.text


def test_the_parent_filter_finds_the_replays_of_a_transaction(traffic, operator):
    client = signed_in(operator)
    blocked = traffic["blocked"]
    client.post(f"/transactions/{blocked.pk}/replay/", {"replay-edit": "", "replay-reason": ""})
    replay = Transaction.objects.get(parent=blocked)
    page = client.get(f"/transactions/?parent={blocked.pk}")
    assert ids_on(page) == {replay.pk}
    assert 'name="parent"' in page.text and 'type="number"' in page.text
