"""The list page every screen shares: search, sort and pagination from the query string, and CSV.

A page declares its columns once; the same declaration draws the HTML table
(``partials/_table.html``) and writes the CSV export of exactly what the page
shows, so a bookmark, the table and the download always agree. A column that shows
pricing or personal data says so (``data_class``): a reader whose role may not see it
gets it masked in the table and the CSV, and cannot sort by it.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django_filters import filters as f

from canonical.classification import DataClass
from controltower.operations.selectors.data_access import value_mask, visible_data_classes
from controltower.web.forms.config import DateInput, DateTimeLocalInput
from controltower.web.live import live_version
from controltower.web.streaming import primed
from controltower.web.templatetags.tower import when

PER_PAGE = 25
PER_PAGE_CHOICES = (25, 50, 100)
# A list counts its rows up to this many: past it, the page says "more than 1,000" and its
# pages stop at that row, instead of counting a million rows on every page (COUNT(*) grows
# with history; a bounded count costs the same at any size). Filter, search or sort to
# reach other rows; the CSV export has them all.
COUNT_LIMIT = 1_000


class BoundedPaginator(Paginator):
    """Django's paginator, counting at most ``COUNT_LIMIT + 1`` rows.

    ``count`` is the exact number of rows up to ``COUNT_LIMIT``; past it, ``COUNT_LIMIT + 1``
    and ``capped`` is true, and the pages stop at the one that holds row ``COUNT_LIMIT``.
    """

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return super().count
        return self.object_list.order_by()[: COUNT_LIMIT + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_LIMIT

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return max(1, -(-COUNT_LIMIT // self.per_page))
        return super().num_pages

    def page(self, number: Any) -> Page:
        """Django's page, whose last page is not cut at a capped count."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.capped and top + self.orphans >= self.count:
            top = self.count
        return _BoundedPage(self.object_list[bottom:top], number, self)


class _BoundedPage(Page):
    def end_index(self) -> int:
        """The last row's number, from the rows on the page (the count may be capped)."""
        return self.start_index() + len(self.object_list) - 1 if self.object_list else 0


@dataclass(frozen=True)
class Column:
    """One column of a list: its heading, its value (for CSV and the cell) and how it sorts.

    ``html`` draws the cell when plain text is not enough (a link, a badge);
    ``order_by`` names the database ordering, and a column without one does not sort.
    ``data_class`` is the class of sensitive data the column shows (or, given a row, of
    what it shows in that row: None when nothing sensitive).
    """

    key: str
    label: str
    value: Callable[[Any], Any]
    order_by: str | Sequence[str] | None = None
    html: Callable[[Any], Any] | None = None
    numeric: bool = False
    csv: bool = True
    table: bool = True  # False: in the CSV only (a long URL, say)
    data_class: DataClass | Callable[[Any], DataClass | None] | None = None

    def hidden_from(self, user: Any) -> bool:
        """Whether ``user`` may not see some of this column (and so may not sort by it)."""
        if self.data_class is None:
            return False
        visible = visible_data_classes(user)
        if callable(self.data_class):
            return not visible >= set(DataClass)
        return self.data_class not in visible

    def shown(self, obj: Any, user: Any, value: Any) -> Any:
        """``value`` of this column in ``obj``'s row, masked if ``user`` may not see it."""
        cls = self.data_class(obj) if callable(self.data_class) else self.data_class
        return value if cls is None else value_mask(value, data_class=cls, user=user)

    def orderings(self, descending: bool) -> list[str]:
        names = [self.order_by] if isinstance(self.order_by, str) else list(self.order_by or ())
        return [
            f"-{n.lstrip('-')}" if descending != n.startswith("-") else n.lstrip("-") for n in names
        ]


@dataclass(frozen=True)
class Header:
    column: Column
    url: str = ""
    state: str = "none"  # for aria-sort: ascending, descending or none

    @property
    def sortable(self) -> bool:
        return bool(self.column.order_by)


@dataclass(frozen=True)
class Cell:
    content: Any
    numeric: bool = False
    key: str = ""


@dataclass(frozen=True)
class Row:
    obj: Any
    cells: list[Cell]


@dataclass
class Listing:
    """What a list template needs: headings with sort links, the rows of one page, paging links."""

    headers: list[Header]
    rows: list[Row]
    page: Page
    total: int  # exact up to COUNT_LIMIT; COUNT_LIMIT + 1 means "more than COUNT_LIMIT"
    search: str
    filtered: bool
    export_url: str
    params: QueryDict

    def page_url(self, number: int) -> str:
        return _url(self.params, page=number)

    @property
    def capped(self) -> bool:
        """Whether the list holds more rows than it counts (``COUNT_LIMIT``)."""
        return self.total > COUNT_LIMIT

    @property
    def total_text(self) -> str:
        """The number of rows in words: "987", or "more than 1,000" past the count limit."""
        return f"more than {COUNT_LIMIT:,}" if self.capped else f"{self.total:,}"

    @property
    def version(self) -> str:
        """A fingerprint of what the page shows: its total and each row's identity and
        last change. A live list (static/js/live.js) swaps itself only when it differs."""
        marks = [str(self.total)]
        for row in self.rows:
            changed = getattr(row.obj, "updated_at", None)
            marks.append(
                f"{getattr(row.obj, 'pk', '')}@{changed.isoformat()}"
                if changed is not None
                else "|".join(str(cell.content) for cell in row.cells)
            )
        return live_version("\n".join(marks))

    @property
    def previous_url(self) -> str:
        return self.page_url(self.page.previous_page_number()) if self.page.has_previous() else ""

    @property
    def next_url(self) -> str:
        return self.page_url(self.page.next_page_number()) if self.page.has_next() else ""


def _url(params: QueryDict, **changes: Any) -> str:
    query = params.copy()
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _search(queryset: QuerySet, fields: Iterable[str], text: str) -> QuerySet:
    condition = Q()
    for word in text.split():
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": word})
        condition &= any_field
    return queryset.filter(condition).distinct() if condition else queryset


def listing_queryset(
    request: HttpRequest,
    *,
    queryset: QuerySet,
    columns: Sequence[Column],
    default_sort: str,
    search_fields: Iterable[str] = (),
) -> tuple[QuerySet, str, str]:
    """The rows a list shows, searched (``q``) and sorted (``sort``) as the query string says."""
    search = request.GET.get("q", "").strip()
    if search and search_fields:
        queryset = _search(queryset, search_fields, search)
    sort = request.GET.get("sort", default_sort)
    by_key = {c.key: c for c in columns if c.order_by and not c.hidden_from(request.user)}
    column = by_key.get(sort.lstrip("-"))
    if column is None:
        sort = default_sort
        column = by_key.get(sort.lstrip("-"))
    if column is not None:
        # The primary key last, so that paging through equal values neither repeats nor skips.
        queryset = queryset.order_by(*column.orderings(sort.startswith("-")), "-pk")
    return queryset, search, sort


def listing(
    request: HttpRequest,
    *,
    queryset: QuerySet,
    columns: Sequence[Column],
    default_sort: str,
    search_fields: Iterable[str] = (),
    filtered: bool = False,
    prepare: Callable[[list[Any]], None] | None = None,
) -> Listing:
    """One page of a list, as the request's query string asks (``q``, ``sort``, ``page``, ``per``).

    ``prepare`` sees the page's objects before the cells are drawn, to fetch in one go
    what the cells of every row need.
    """
    queryset, search, sort = listing_queryset(
        request,
        queryset=queryset,
        columns=columns,
        default_sort=default_sort,
        search_fields=search_fields,
    )
    params = request.GET.copy()
    params.pop("export", None)
    try:
        per_page = int(request.GET.get("per", PER_PAGE))
    except ValueError:
        per_page = PER_PAGE
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE
    page = BoundedPaginator(queryset, per_page).get_page(request.GET.get("page"))
    shown = [c for c in columns if c.table]
    headers = []
    for column in shown:
        if not column.order_by or column.hidden_from(request.user):
            headers.append(Header(column))
            continue
        state = "none"
        if sort.lstrip("-") == column.key:
            state = "descending" if sort.startswith("-") else "ascending"
        if state == "ascending":
            following = f"-{column.key}"
        elif state == "descending":
            following = column.key
        else:  # amounts and times sort largest and newest first on the first click
            following = f"-{column.key}" if column.numeric or _is_time(column) else column.key
        headers.append(Header(column, _url(params, sort=following, page=None), state))
    objects = list(page.object_list)
    if prepare is not None:
        prepare(objects)
    rows = [
        Row(
            obj,
            [
                Cell(
                    column.shown(obj, request.user, _cell(column, obj)), column.numeric, column.key
                )
                for column in shown
            ],
        )
        for obj in objects
    ]
    return Listing(
        headers=headers,
        rows=rows,
        page=page,
        total=page.paginator.count,
        search=search,
        filtered=filtered or bool(search),
        export_url=_url(params, export="csv", page=None, per=None),
        params=params,
    )


def page_filter_form(
    filterset: Any, *, labels: dict[str, str] | None = None, exclude: Iterable[str] = ()
) -> Any:
    """A FilterSet's form made for a page: pickers for dates and times, “Any” for no choice,
    Yes/No for booleans, and a list of names where the API takes an id (``?team=3``).

    The field names and values stay the API's, so a page's query string works on the API too.
    """

    form = filterset.form
    form.label_suffix = ""
    for name in list(form.fields):
        if name in exclude:
            del form.fields[name]
            continue
        field_ = form.fields[name]
        definition = filterset.filters.get(name)
        field_.required = False
        if labels and name in labels:
            field_.label = labels[name]
        if isinstance(definition, f.IsoDateTimeFilter):
            field_.widget = DateTimeLocalInput()
            field_.input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        elif isinstance(definition, f.DateFilter):
            field_.widget = DateInput()
        elif isinstance(definition, f.BooleanFilter):
            field_.widget = forms.NullBooleanSelect()
            field_.widget.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]
        elif isinstance(definition, f.ChoiceFilter | f.ModelChoiceFilter) and not isinstance(
            field_.widget, forms.SelectMultiple
        ):
            field_.empty_label = "Any"
        elif isinstance(definition, f.NumberFilter) and definition.field_name.endswith("_id"):
            related = _related_model(filterset._meta.model, definition.field_name[:-3])
            if related is not None:
                options = [(obj.pk, str(obj)) for obj in related._default_manager.all()[:500]]
                field_.widget = forms.Select(choices=[("", "Any"), *options])
    return form


def _related_model(model: type[Model], name: str) -> type[Model] | None:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return found.related_model if found.is_relation else None


def _is_time(column: Column) -> bool:
    names = [column.order_by] if isinstance(column.order_by, str) else list(column.order_by or ())
    return any(n.lstrip("-") == "at" or n.endswith(("_at", "_on")) for n in names)


def _cell(column: Column, obj: Any) -> Any:
    if column.html is not None:
        return column.html(obj)
    value = column.value(obj)
    if isinstance(value, dt.datetime):
        return when(value)
    if isinstance(value, bool):
        return format_html(
            '<span class="badge {}">{}</span>', "success" if value else "secondary", _yes_no(value)
        )
    return "" if value is None else value


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def csv_text(value: Any) -> str:
    """A cell as CSV text: times in ISO 8601 with their offset, and no formula a spreadsheet runs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _yes_no(value)
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, dt.date | Decimal | int | float):
        return str(value)
    if isinstance(value, Model):
        value = str(value)
    if isinstance(value, list | tuple | set):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    # A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    *, rows: Iterable[Any], columns: Sequence[Column], filename: str, user: Any = None
) -> StreamingHttpResponse:
    """Streams ``rows`` as CSV with the page's own columns, however many there are; what
    ``user`` may not see is masked (all that is sensitive, without a user)."""
    exported = [c for c in columns if c.csv]
    writer = csv.writer(_Echo())
    rows = primed(rows)

    def lines() -> Iterator[str]:
        yield "\ufeff"  # a byte-order mark, so that spreadsheets read UTF-8 names correctly
        yield writer.writerow([c.label for c in exported])
        for obj in rows:
            yield writer.writerow([csv_text(c.shown(obj, user, c.value(obj))) for c in exported])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("export") == "csv"
