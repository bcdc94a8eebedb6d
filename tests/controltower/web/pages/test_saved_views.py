"""Saved views: a person keeps a list page's filters and sort under a name, and opens them again."""

from __future__ import annotations

import pytest
from django.test import Client

from canonical.errors import ApplicationError
from controltower.operations.models import SavedView
from controltower.operations.services.saved_views import (
    saved_view_delete,
    saved_view_query,
    saved_view_save,
)

pytestmark = pytest.mark.django_db

LIST_PAGES = [
    "exceptions:list",
    "approvals:list",
    "slas:index",
    "slas:history",
    "slas:notifications",
    "reconciliation:index",
]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_saved_view_keeps_filters_search_and_sort_but_not_the_page_number():
    assert saved_view_query(
        "?tab=mine&severity=high&severity=critical&page=3&export=csv&q=P-1"
    ) == ("tab=mine&severity=high&severity=critical&q=P-1")


def test_saving_under_the_same_name_replaces_the_view(user_with_role):
    user = user_with_role("viewer")
    saved_view_save(user=user, page="exceptions:list", name="Big US", query="legal_entity=US01")
    saved_view_save(
        user=user, page="exceptions:list", name="Big US", query="legal_entity=US01&money_min=1000"
    )
    view = SavedView.objects.get()
    assert view.query == "legal_entity=US01&money_min=1000"


def test_a_view_needs_a_name_and_a_real_list_page(user_with_role):
    user = user_with_role("viewer")
    with pytest.raises(ApplicationError, match="Give the view a name"):
        saved_view_save(user=user, page="exceptions:list", name="  ", query="")
    with pytest.raises(ApplicationError, match="No list page is named"):
        saved_view_save(user=user, page="https://evil.example/", name="x", query="")


def test_nobody_deletes_another_persons_view(user_with_role):
    owner, other = user_with_role("viewer"), user_with_role("operator")
    view = saved_view_save(user=owner, page="exceptions:list", name="Mine", query="tab=mine")
    with pytest.raises(ApplicationError):
        saved_view_delete(user=other, saved_view_id=view.pk)
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_save_this_view_from_the_page_and_open_it_from_the_menu(user_with_role):
    from controltower.operations.demo import demo_load

    demo_load()
    client = signed_in(user_with_role("viewer"))
    response = client.post(
        "/saved-views/",
        {
            "page": "exceptions:list",
            "name": "High, by age",
            "query": "severity=high&sort=-age&page=2",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/exceptions/?severity=high&sort=-age"
    page = client.get(response["Location"])
    assert "Saved this view as “High, by age”." in page.text
    menu = page.context["saved_views"]
    assert menu["views"] == [
        {
            "pk": SavedView.objects.get().pk,
            "name": "High, by age",
            "url": "/exceptions/?severity=high&sort=-age",
            "current": True,
        }
    ]
    assert 'href="/exceptions/?severity=high&amp;sort=-age" aria-current="true"' in page.text
    # Another page's menu does not list it.
    assert client.get("/slas/").context["saved_views"]["views"] == []


def test_a_viewer_may_keep_views_and_delete_their_own(user_with_role):
    user = user_with_role("viewer")
    view = saved_view_save(user=user, page="slas:history", name="Breached", query="state=breached")
    client = signed_in(user)
    response = client.post(f"/saved-views/{view.pk}/delete/", {"query": "state=breached"})
    assert response["Location"] == "/slas/history/?state=breached"
    assert not SavedView.objects.exists()
    assert (
        signed_in(user_with_role("viewer")).post(f"/saved-views/{view.pk}/delete/").status_code
        == 404
    )


def test_a_nameless_view_is_refused_on_the_page_it_came_from(user_with_role):
    client = signed_in(user_with_role("viewer"))
    response = client.post(
        "/saved-views/", {"page": "slas:history", "name": "", "query": "state=met"}
    )
    assert response["Location"] == "/slas/history/?state=met"
    assert "Give the view a name." in client.get(response["Location"]).text
    assert client.post("/saved-views/", {"page": "nope", "name": "x"}).status_code == 400


def test_a_hostile_page_name_is_named_in_the_refusal_but_never_run(user_with_role):
    client = signed_in(user_with_role("viewer"))
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    response = client.post("/saved-views/", {"page": hostile, "name": "x"})

    assert response.status_code == 400
    assert "<script>" not in response.text and "<img" not in response.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in response.text


def test_saved_views_are_only_for_people_signed_in():
    response = Client().post("/saved-views/", {"page": "exceptions:list", "name": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("page", LIST_PAGES)
def test_every_list_page_of_the_queues_offers_save_this_view(page, user_with_role):
    from django.urls import reverse

    user = user_with_role("viewer")
    saved_view_save(user=user, page=page, name="Kept", query="sort=-created_at")
    response = signed_in(user).get(reverse(page))
    assert response.status_code == 200
    assert "Save this view as" in response.text
    assert f'<input type="hidden" name="page" value="{page}">' in response.text
    assert [v["name"] for v in response.context["saved_views"]["views"]] == ["Kept"]
