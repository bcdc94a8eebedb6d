"""A reusable test base for read-only API endpoints, declared rather than repeated.

A subclass names the endpoint and the factory and gets the list, detail, filter,
ordering and permission tests for free::

    class TestCustomersAPI(ReadOnlyAPITests):
        url = "/api/v1/customers/"
        factory = CustomerFactory
        ordering = "name"
        shows = {"legal_entity": "legal_entity.code"}
        filter_cases = [
            (lambda objs: {"number": objs[0].number}, 1),
            ({"legal_entity": "NOPE"}, 0),
        ]

Each filter case is a query (a dict, or a callable taking the created objects and
returning one) and the number of results it must leave. Override ``create_objects``
to give the filters something to tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from factory.django import DjangoModelFactory
from rest_framework.test import APIClient

from canonical.classification import PERMISSIONS, data_classes

Query = dict[str, Any] | Callable[[Sequence[models.Model]], dict[str, Any]]
FilterCase = tuple[Query, int]


class ReadOnlyAPITests:
    url: ClassVar[str]
    factory: ClassVar[type[DjangoModelFactory]]
    filter_cases: ClassVar[list[FilterCase]] = []
    ordering: ClassVar[str] = "id"
    # Response field -> attribute path of the object it must show (e.g. a foreign key's
    # business key: {"customer": "customer.number"}).
    shows: ClassVar[dict[str, str]] = {}

    # --- declared hooks -------------------------------------------------------------

    def create_objects(self) -> list[models.Model]:
        """The records every test starts from; at least two."""
        return self.factory.create_batch(3)

    # --- plumbing --------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "filter_case" in metafunc.fixturenames:
            cases = metafunc.cls.filter_cases
            ids = [_case_id(query, index) for index, (query, _) in enumerate(cases)]
            metafunc.parametrize("filter_case", cases, ids=ids)

    @property
    def model(self) -> type[models.Model]:
        return self.factory._meta.model

    @pytest.fixture
    def objects(self, db: None) -> list[models.Model]:
        return self.create_objects()

    @pytest.fixture
    def reader(self, db: None) -> AbstractBaseUser:
        """A user holding the model's view permission and the right to see its pricing and
        personal data, as finance does."""
        user = self._viewer("reader")
        for permission in PERMISSIONS.values():
            app_label, codename = permission.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    @pytest.fixture
    def masked_reader(self, db: None) -> AbstractBaseUser:
        """A user holding only the model's view permission, as viewers and support do."""
        return self._viewer("masked-reader")

    def _viewer(self, username: str) -> AbstractBaseUser:
        user = get_user_model().objects.create_user(username=username)
        opts = self.model._meta
        user.user_permissions.add(
            Permission.objects.get(
                content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}"
            )
        )
        return user

    @pytest.fixture
    def outsider(self, db: None) -> AbstractBaseUser:
        """A signed-in user with no permission at all."""
        return get_user_model().objects.create_user(username="outsider")

    @pytest.fixture
    def client_for(self) -> Callable[[AbstractBaseUser | None], APIClient]:
        def make(user: AbstractBaseUser | None) -> APIClient:
            client = APIClient()
            if user is not None:
                client.force_authenticate(user)
            return client

        return make

    def detail_url(self, obj: models.Model) -> str:
        return f"{self.url}{obj.pk}/"

    # --- the tests ------------------------------------------------------------------

    def test_it_lists_records_paginated(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(self.url)

        assert response.status_code == 200, response.data
        assert response.data["count"] == len(objects)
        assert len(response.data["results"]) == len(objects)
        assert {row["id"] for row in response.data["results"]} == {o.pk for o in objects}

    def test_it_lists_without_a_query_per_record(self, objects, reader, client_for) -> None:
        client = client_for(reader)
        client.get(self.url)  # warms the user's permission cache
        with CaptureQueriesContext(connection) as few:
            client.get(self.url)
        self.factory.create_batch(3)

        with CaptureQueriesContext(connection) as many:
            client.get(self.url)

        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]

    def test_it_pages_with_page_size(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(self.url, {"page_size": 1})

        assert response.data["count"] == len(objects)
        assert len(response.data["results"]) == 1
        assert response.data["next"]

    def test_it_shows_one_record(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(self.detail_url(objects[0]))

        assert response.status_code == 200, response.data
        assert response.data["id"] == objects[0].pk
        for field, path in self.shows.items():
            assert response.data[field] == _attr(objects[0], path), field

    def test_it_shows_pricing_and_personal_data_only_to_a_reader_who_may_see_them(
        self, objects, reader, masked_reader, client_for
    ) -> None:
        classified = list(data_classes(self.model))
        record = objects[0]

        shown = client_for(reader).get(self.detail_url(record)).data
        masked = client_for(masked_reader).get(self.detail_url(record)).data

        for name in classified:
            if name not in shown:
                continue
            value = getattr(record, name)
            assert (shown[name] is None) == (value in (None, "")), name
            assert masked[name] is None, name
        # Nested records (a rate card's lines) mask their own fields; the rest is the same.
        unclassified = {
            k for k, v in shown.items() if k not in classified and not isinstance(v, list | dict)
        }
        assert {k: masked[k] for k in unclassified} == {k: shown[k] for k in unclassified}

    def test_it_answers_404_for_an_unknown_record(self, objects, reader, client_for) -> None:
        response = client_for(reader).get(f"{self.url}999999/")

        assert response.status_code == 404

    def test_it_refuses_anonymous_users(self, objects, client_for) -> None:
        response = client_for(None).get(self.url)

        assert response.status_code in (401, 403)

    def test_it_refuses_users_without_the_view_permission(
        self, objects, outsider, client_for
    ) -> None:
        client = client_for(outsider)

        assert client.get(self.url).status_code == 403
        assert client.get(self.detail_url(objects[0])).status_code == 403

    def test_it_narrows_the_list_with_each_filter(
        self, objects, reader, client_for, filter_case: FilterCase
    ) -> None:
        query, expected = filter_case
        params = query(objects) if callable(query) else query

        response = client_for(reader).get(self.url, params)

        assert response.status_code == 200, response.data
        assert response.data["count"] == expected, params

    def test_it_orders_by_a_declared_field(self, objects, reader, client_for) -> None:
        client = client_for(reader)

        ascending = client.get(self.url, {"ordering": self.ordering}).data["results"]
        descending = client.get(self.url, {"ordering": f"-{self.ordering}"}).data["results"]

        by_pk = {o.pk: _attr(o, self.ordering) for o in objects}
        values = sorted(by_pk.values())
        assert [by_pk[row["id"]] for row in ascending] == values
        assert [by_pk[row["id"]] for row in descending] == values[::-1]

    def test_it_refuses_writes(self, objects, reader, client_for) -> None:
        superuser = get_user_model().objects.create_superuser(username="root", password="x")
        detail = self.detail_url(objects[0])

        for user in (reader, superuser):
            client = client_for(user)
            assert client.post(self.url, {}, format="json").status_code in (403, 405)
            assert client.put(detail, {}, format="json").status_code in (403, 405)
            assert client.patch(detail, {}, format="json").status_code in (403, 405)
            assert client.delete(detail).status_code in (403, 405)
        assert self.model.objects.count() == len(objects)


def _attr(obj: models.Model, path: str) -> Any:
    for part in path.replace(".", "__").split("__"):
        obj = getattr(obj, part)
    return obj


def _case_id(query: Query, index: int) -> str:
    if callable(query):
        return f"computed-{index}"
    return "&".join(f"{key}={value}" for key, value in query.items()) or "no-filter"
