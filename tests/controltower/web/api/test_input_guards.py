"""The API refuses what it cannot use with a 4xx in its one error shape, naming the field,
instead of failing: paths it does not route, ids that are not ids, moments with impossible
UTC offsets, NUL characters in JSON."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from canonical.validators import OFFSET_MESSAGE

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(demo, api_client_for, user_with_role):
    return api_client_for(user_with_role("admin"))


def test_a_path_under_the_api_that_nothing_routes_answers_a_json_404(admin_api):
    response = admin_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not found.", "errors": {}}


def test_a_page_that_does_not_exist_is_still_a_page(admin_api):
    response = admin_api.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/transactions/null,null/retry/",
        "/api/v1/exceptions/0.5/resolve/",
        "/api/v1/invoices/abc/approve/",
        f"/api/v1/transactions/{2**63}/retry/",
    ],
)
def test_an_action_on_an_id_that_is_not_an_id_is_a_json_404(admin_api, path):
    response = admin_api.post(path, {"reason": "x", "resolution": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "Not found."


def test_a_request_django_refuses_to_read_is_a_json_400(demo, user_with_role):
    client = Client()
    client.force_login(user_with_role("admin"))
    fields = "&".join(f"f{i}=1" for i in range(1100))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = client.post(
        "/api/v1/teams/", fields, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"message", "errors"}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/transactions/?received_after=2026-01-01T00:00:00%2B20:00", "received_after"),
        ("/api/v1/exceptions/?created_before=2026-01-01T00:00:00-16:30", "created_before"),
        ("/api/v1/customers/?updated_after=2026-01-01T00:00:00%2B23:59", "updated_after"),
        ("/api/v1/audit-events/?at_after=0001-01-01T00:00:00%2B01:00", "at_after"),
        ("/api/v1/maintenance-windows/?active_at=2026-01-01T00:00:00%2B15:00", "active_at"),
    ],
)
def test_a_date_time_filter_with_an_impossible_offset_is_a_400_naming_the_filter(
    admin_api, path, field
):
    response = admin_api.get(path)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_date_time_filter_at_the_widest_real_offset_is_accepted(admin_api):
    response = admin_api.get("/api/v1/transactions/?received_after=2026-01-01T00:00:00%2B14:00")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/notifications/?breach={2**63}", "breach"),
        ("/api/v1/notifications/?breach=-5.5e%2B16", "breach"),
        (f"/api/v1/exceptions/?team={10**30}", "team"),
        ("/api/v1/exceptions/?money_min=1e%2B999", "money_min"),
    ],
)
def test_an_id_or_amount_filter_the_database_cannot_hold_is_a_400_naming_it(admin_api, path, field):
    response = admin_api.get(path)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_a_moment_with_an_impossible_offset_is_refused_naming_the_field(admin_api):
    response = admin_api.post(
        "/api/v1/maintenance-windows/",
        {
            "name": "Upgrade",
            "starts_at": "2026-12-05T10:00:00+23:00",
            "ends_at": "2026-12-05T12:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["starts_at"]


def test_ids_past_what_a_64_bit_column_holds_are_refused_naming_the_field(admin_api):
    response = admin_api.post(
        "/api/v1/invoices/approve/", {"ids": [1, 2**70], "reason": "x"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "ids[1]" in response.json()["errors"] or "ids.1" in response.json()["errors"]


def test_a_nul_character_in_json_input_is_refused_naming_the_field(admin_api):
    response = admin_api.post(
        "/api/v1/bulk-operations/",
        {"action": "resolve", "ids": [1], "params": {"resolution": "done\u0000"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"params": ["resolution: Null characters are not allowed."]}


def test_an_unpaired_surrogate_in_json_input_is_refused_naming_the_field(admin_api):
    response = admin_api.generic(
        "POST",
        "/api/v1/bulk-operations/",
        b'{"action": "resolve", "ids": [1], "params": {"resolution": "done \\ud800"}}',
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "params": ["resolution: Unpaired surrogate characters are not allowed."]
    }


def test_a_time_of_day_is_published_as_what_it_answers(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    day_start = schema["components"]["schemas"]["BusinessCalendar"]["properties"]["day_start"]
    assert "format" not in day_start and day_start["pattern"]


def test_a_blank_url_is_published_as_allowed(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    base_url = schema["components"]["schemas"]["ConnectedSystem"]["properties"]["base_url"]
    assert base_url["anyOf"] == [{"format": "uri"}, {"maxLength": 0}]
    assert "format" not in base_url


def test_a_key_holding_a_nul_character_is_refused_naming_the_field_before_any_lookup(admin_api):
    response = admin_api.post(
        "/api/v1/teams/", {"name": "Billing", "members": ["admin\u0000"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"members": ["Null characters are not allowed."]}


def test_a_refused_csv_export_is_itself_valid_csv(admin_api):
    response = admin_api.get(
        "/api/v1/audit-events/export/?at_after=2026-01-01T00:00:00%2B20:00",
        HTTP_ACCEPT="text/csv",
    )
    assert response.status_code == 400
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["message"], [f"at_after: {OFFSET_MESSAGE}"]]
