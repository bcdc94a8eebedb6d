"""Field mappings: where each canonical field sits in a vendor's record, as data.

Every firm names its own custom fields (a DocuSign envelope's ``Contract No``, a
Salesforce org's ``Contract_Number__c`` or ``SOW_Ref__c``), so the adapters read only the
vendor's envelope (ids, times, the kind of event) and a *mapping* says where the business
values are. Each dialect ships a default mapping written from the vendor's public
documentation; an admin publishes a system's own (``FieldMapping``).

A mapping document::

    {
      "when": [{"source": "StageName", "in": ["Closed Won"]}],
      "fields": [
        {"field": "number", "source": "Contract_Number__c", "required": true},
        {"field": "billing_model", "source": "Billing_Model__c", "transform": "billing_model"},
        {"field": "legal_entity", "source": "Company__c", "values": {"Acme UK Ltd": "GB01"}},
        {"field": "currency", "source": "CurrencyIsoCode", "default": "USD"},
        {"field": "name", "source": ["fields.First Name", "fields.Last Name"], "join": " "}
      ],
      "match": {"resource": {"read": "/v2/users/{id}", "source": "email", "field": "email"}}
    }

- ``when``: the record is taken when any one condition holds (a source's value is one of
  ``in``); otherwise it is *ignored*, and recorded as such, naming the condition. No
  ``when``: every record is taken.
- ``field``: the canonical field in the event's ``data`` (``project.code`` for a nested
  one). ``source``: a path in the vendor's record, or a list of paths (the first present
  one; with ``join``, all present ones joined). A source ``{"ref": <path>}`` is the
  sending system's own id of the record the field names (a Harvest project id): the
  event carries it as a cross-reference (``HARVEST-14308069``) that the tower resolves
  through the record's sync state in that system, once the two are linked.
- ``match``: how a record named by such an id is found while nobody linked it, by kind
  (``resource``, ``project``, ``customer``): the tower reads the sender's record at
  ``read`` (a path on the system's base URL, ``{id}`` where the id goes) with the
  system's credentials, takes ``source`` from it, and links the one canonical record
  whose ``field`` (``MATCHABLE``) has that value; none or several, and the work waits for
  a person to pick it.
- ``values``: a value map applied first (vendor value → canonical value; ``strict``
  refuses a value the map lacks); ``transform`` converts (``TRANSFORMS``); ``default``
  fills an absent value; ``required`` makes an absent value an error even where the
  canonical schema allows it.

Paths: keys separated by dots (``fields.Employee #``), ``[n]`` an array index, ``[*]``
or ``*`` every item, ``[name=Value]`` the items of an array whose ``name`` is ``Value``
(``customFields.*[name=Contract_Number].value``), ``["a.b"]`` a key with a dot.

A mapping never raises on a record: it returns the ``data`` it could build, where each
field came from, and the errors by vendor path, so that a missing business value is a
fixable business exception and not a refused request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

REQUIRED = "This field is required."
ABSENT = object()

# --- paths --------------------------------------------------------------------------------

_SELECTOR = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class Step:
    """One step of a path: a key, every item (``*``), an index, or a filter ``name=value``."""

    kind: str  # "key" | "all" | "index" | "filter"
    key: str = ""
    index: int = 0
    value: str = ""

    def text(self) -> str:
        if self.kind == "key":
            return self.key if re.fullmatch(r"[^.\[\]\"]+", self.key) else f'["{self.key}"]'
        if self.kind == "all":
            return "*"
        if self.kind == "index":
            return f"[{self.index}]"
        return f"[{self.key}={self.value}]"


class PathError(ValueError):
    """A path that cannot be read, with what is wrong with it."""


def path_parse(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; ``PathError`` names what is wrong."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("A path must be a non-empty string.")
    steps: list[Step] = []
    position = 0
    text = path.strip()
    while position < len(text):
        char = text[position]
        if char == ".":
            position += 1
            if position >= len(text) or text[position] == ".":
                raise PathError(f"Empty key at position {position} of {path!r}.")
            continue
        if char == "[":
            end = text.find("]", position)
            if end < 0:
                raise PathError(f"Unclosed [ at position {position} of {path!r}.")
            inner = text[position + 1 : end]
            steps.append(_selector(inner, path))
            position = end + 1
            continue
        end = position
        while end < len(text) and text[end] not in ".[":
            end += 1
        key = text[position:end]
        steps.append(Step("all") if key == "*" else Step("key", key=key))
        position = end
    if not steps:
        raise PathError(f"{path!r} names no field.")
    return tuple(steps)


def _selector(inner: str, path: str) -> Step:
    inner = inner.strip()
    if inner == "*":
        return Step("all")
    if inner.isascii() and inner.isdigit():  # not "²": isdigit() alone takes it
        return Step("index", index=int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        return Step("key", key=inner[1:-1])
    if "=" in inner:
        key, _, value = inner.partition("=")
        if not key.strip():
            raise PathError(f"[{inner}] in {path!r} filters on no key.")
        return Step("filter", key=key.strip(), value=value.strip().strip("\"'"))
    raise PathError(f"[{inner}] in {path!r} is not an index, * , a quoted key or key=value.")


def path_text(steps: tuple[Step, ...] | list[Step]) -> str:
    text = ""
    for step in steps:
        part = step.text()
        text += part if part.startswith("[") or not text else f".{part}"
    return text


def path_read(root: Any, steps: tuple[Step, ...]) -> list[tuple[Any, str]]:
    """Every value ``steps`` reach from ``root``, each with the concrete path to it
    (``customFields.textCustomFields[3].value``), in document order."""
    found: list[tuple[Any, list[Step]]] = [(root, [])]
    for step in steps:
        after: list[tuple[Any, list[Step]]] = []
        for value, at in found:
            if step.kind == "key":
                if isinstance(value, Mapping) and step.key in value:
                    after.append((value[step.key], [*at, step]))
            elif step.kind == "index":
                if isinstance(value, list) and step.index < len(value):
                    after.append((value[step.index], [*at, step]))
            elif step.kind == "all":
                if isinstance(value, list):
                    after.extend(
                        (item, [*at, Step("index", index=i)]) for i, item in enumerate(value)
                    )
                elif isinstance(value, Mapping):
                    after.extend((item, [*at, Step("key", key=k)]) for k, item in value.items())
            else:  # filter
                items = value if isinstance(value, list) else []
                after.extend(
                    (item, [*at, Step("index", index=i)])
                    for i, item in enumerate(items)
                    if isinstance(item, Mapping) and _same(item.get(step.key), step.value)
                )
        found = after
    return [(value, path_text(at)) for value, at in found]


def _same(value: Any, wanted: str) -> bool:
    return value is not None and str(value) == wanted


def present(value: Any) -> bool:
    return value is not None and value != ""


# --- transforms ---------------------------------------------------------------------------


class TransformError(ValueError):
    """A value a transform cannot convert; the message says what it wants."""


CENTS = Decimal("0.01")


def _text(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise TransformError("Must be text.")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value).strip()


def _money(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = Decimal(value.replace(",", "").strip())
        except ArithmeticError:
            raise TransformError("Must be an amount, e.g. 1250.00.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TransformError("Must be an amount, e.g. 1250.00.")
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 16:
        raise TransformError("Must be a finite amount below 10^16.")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        cents = amount.quantize(CENTS)
        if cents != amount:
            raise TransformError("Must have at most two decimals.")
        amount = cents
    return format(amount, "f")


def _number(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            raise TransformError("Must be a number.") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TransformError("Must be a number.")
    result = float(value)
    if result in (float("inf"), float("-inf")) or result != result:
        raise TransformError("Must be a finite number.")
    return result


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> str:
    """A date as YYYY-MM-DD, from a date or the date part of a date-time."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if DATE.match(text):
            return date.fromisoformat(text).isoformat()
        if "T" in text.upper():
            return datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text)).date().isoformat()
    except ValueError:
        pass
    raise TransformError("Must be a date, YYYY-MM-DD.")


TRUE = {"true", "1", "yes", "y", "active"}
FALSE = {"false", "0", "no", "n", "inactive", "terminated"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise TransformError("Must be true or false (1/0, yes/no, Active/Inactive).")


BILLING_MODELS = {
    "time_and_materials": "time_and_materials",
    "time_and_material": "time_and_materials",
    "time_materials": "time_and_materials",
    "t_and_m": "time_and_materials",
    "t_m": "time_and_materials",
    "tm": "time_and_materials",
    "fixed_fee": "fixed_fee",
    "fixed_price": "fixed_fee",
    "fixed": "fixed_fee",
    "retainer": "retainer",
    "milestone": "milestone",
    "milestones": "milestone",
    "milestone_based": "milestone",
    "managed_services": "managed_services",
    "managed_service": "managed_services",
    "managed": "managed_services",
}


def _billing_model(value: Any) -> str:
    """A picklist label (``Time & Materials``, ``Fixed Fee``) as the canonical value."""
    text = _text(value)
    key = re.sub(r"[^a-z0-9]+", "_", text.lower().replace("&", " and ")).strip("_")
    return BILLING_MODELS.get(key, text)


TRANSFORMS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "text": (_text, "the value as text (numbers too)"),
    "upper": (lambda v: _text(v).upper(), "text in capitals (currency, company codes)"),
    "lower": (lambda v: _text(v).lower(), "text in small letters (e-mail addresses)"),
    "money": (_money, "an amount as a decimal string with at most two decimals"),
    "number": (_number, "a number (hours)"),
    "date": (_date, "YYYY-MM-DD, from a date or the date of a date-time"),
    "boolean": (_boolean, "true or false, from true/false, 1/0, yes/no, Active/Inactive"),
    "billing_model": (_billing_model, "a billing model from its picklist label"),
}


def _plain(value: Any) -> Any:
    """A value read without a transform, made storable (a ``Decimal`` as a number or text)."""
    if isinstance(value, Decimal):
        number = float(value)
        return number if Decimal(repr(number)) == value else format(value, "f")
    return value


# --- the document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    source: str
    steps: tuple[Step, ...]
    values: tuple[Any, ...]

    def holds(self, root: Any) -> bool:
        return any(
            value in self.values or (isinstance(value, str) and value.strip() in self.values)
            for value, _ in path_read(root, self.steps)
        )

    def describe(self) -> str:
        return f"{self.source} in [{', '.join(_as_json(v) for v in self.values)}]"


@dataclass(frozen=True)
class Rule:
    field: str
    sources: tuple[str, ...]
    steps: tuple[tuple[Step, ...], ...]
    transform: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    strict: bool = False
    default: Any = ABSENT
    required: bool = False
    join: str | None = None
    refs: tuple[bool, ...] = ()  # by source: the sending system's own id of the record


@dataclass(frozen=True)
class Match:
    """How a record of ``kind`` that the sender names by its own id is found while nobody
    linked it: read at ``read`` (``{id}`` the id), ``source`` in what was read equals the
    canonical record's ``field``."""

    kind: str
    read: str
    source: str
    steps: tuple[Step, ...]
    field: str

    def path(self, external_id: str) -> str:
        return self.read.replace("{id}", quote(external_id, safe=""))

    def value(self, record: Any) -> Any:
        found = [value for value, _ in path_read(record, self.steps)]
        return found[0] if found else None


@dataclass(frozen=True)
class FieldMap:
    """A checked mapping document, ready to apply."""

    when: tuple[Condition, ...]
    rules: tuple[Rule, ...]
    document: dict[str, Any]
    matches: Mapping[str, Match] = field(default_factory=dict)

    def taken(self, root: Any) -> bool:
        return not self.when or any(condition.holds(root) for condition in self.when)

    def why_ignored(self, root: Any) -> str:
        found = []
        for condition in self.when:
            values = [value for value, _ in path_read(root, condition.steps)]
            found.append(f"{condition.source} is {_shown(values)}")
        wanted = " or ".join(condition.describe() for condition in self.when)
        return f"Ignored by the mapping's rule {wanted}: {'; '.join(found)}."

    def lacks(self, root: Any, *, known: Collection[str] = ()) -> bool:
        """Whether ``root`` lacks a value the mapping needs, so that the whole record must be
        read first (a change event carries only what changed): a condition's source while
        no condition holds, or, the record taken, every source of a field. ``known``:
        top-level keys known to be empty (a change event's nulled fields)."""

        def holds(steps: tuple[Step, ...]) -> bool:
            if steps and steps[0].kind == "key" and steps[0].key in known:
                return True
            return any(present(value) for value, _ in path_read(root, steps))

        if not self.taken(root):
            return not all(holds(condition.steps) for condition in self.when)
        return any(
            rule.steps and not any(holds(steps) for steps in rule.steps) for rule in self.rules
        )

    def source_keys(self) -> set[str]:
        """Every key the mapping reads, at any depth: what a change must touch to matter."""
        paths = [steps for rule in self.rules for steps in rule.steps]
        paths += [condition.steps for condition in self.when]
        return {step.key for steps in paths for step in steps if step.kind == "key"}


def _shown(values: list[Any]) -> str:
    if not values:
        return "absent"
    return ", ".join(_as_json(_plain(v)) for v in values)


def _as_json(value: Any) -> str:
    """A value as the vendor's JSON writes it (true, "Closed Won", 12.5), for messages."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


class MappingInvalid(ValueError):
    """A mapping document that cannot be used, with its faults by place in the document."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors.items()))
        super().__init__(f"{first[0]}: {first[1][0]}")
        self.errors = errors


RULE_KEYS = {"field", "source", "transform", "values", "strict", "default", "required", "join"}
MATCH_KEYS = {"read", "source", "field"}
# The canonical fields a record named by a sender's own id may be found by, by kind.
MATCHABLE: dict[str, tuple[str, ...]] = {
    "resource": ("email", "employee_number"),
    "project": ("code",),
    "customer": ("number",),
}
MATCH_EXAMPLE = '{"read": "/v2/users/{id}", "source": "email", "field": "email"}'
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


def mapping_read(document: Any, *, fields: Mapping[str, Any] | None = None) -> FieldMap:
    """Checks ``document`` and returns it ready to apply; ``MappingInvalid`` names every
    fault by its place (``fields[2].source``). ``fields``: the canonical fields the record
    type has (their names), when known."""
    errors: dict[str, list[str]] = {}

    def error(at: str, message: str) -> None:
        errors.setdefault(at, []).append(message)

    if not isinstance(document, dict):
        raise MappingInvalid({"(root)": ['Must be an object: {"when": [...], "fields": [...]}.']})
    for key in sorted(set(document) - {"when", "fields", "match"}):
        error(key, 'Unknown key; a mapping has "when", "fields" and "match".')
    when: list[Condition] = []
    raw_when = document.get("when") or []
    if not isinstance(raw_when, list):
        error("when", "Must be a list of conditions.")
        raw_when = []
    for index, item in enumerate(raw_when):
        at = f"when[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("in"), list) or not item["in"]:
            error(at, 'Must be {"source": <path>, "in": [<value>, ...]}.')
            continue
        try:
            steps = path_parse(item.get("source"))
        except PathError as exc:
            error(f"{at}.source", str(exc))
            continue
        when.append(Condition(item["source"], steps, tuple(item["in"])))
    rules: list[Rule] = []
    raw_fields = document.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        error("fields", "Must be a non-empty list of field rules.")
        raw_fields = []
    seen: set[str] = set()
    for index, item in enumerate(raw_fields):
        at = f"fields[{index}]"
        if not isinstance(item, dict):
            error(at, 'Must be an object such as {"field": "number", "source": "Contract_No"}.')
            continue
        for key in sorted(set(item) - RULE_KEYS):
            error(f"{at}.{key}", f"Unknown key; a field rule has {', '.join(sorted(RULE_KEYS))}.")
        name = item.get("field")
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            error(f"{at}.field", "Must name a canonical field, e.g. number or project.code.")
            continue
        if fields is not None and name not in fields:
            error(
                f"{at}.field",
                f"No canonical field {name!r}; this record type has {', '.join(sorted(fields))}.",
            )
        if name in seen:
            error(f"{at}.field", f"{name} is mapped twice.")
        seen.add(name)
        raw_sources = item.get("source")
        listed = [raw_sources] if isinstance(raw_sources, (str, dict)) else raw_sources
        if listed is None and "default" in item:
            listed = []
        if not isinstance(listed, list) or not all(_is_source(s) for s in listed):
            error(f"{at}.source", 'Must be a path, {"ref": <path>}, or a list of them.')
            continue
        sources = [s["ref"] if isinstance(s, dict) else s for s in listed]
        steps = []
        for position, source in enumerate(sources):
            try:
                steps.append(path_parse(source))
            except PathError as exc:
                place = (
                    f"{at}.source" if isinstance(raw_sources, str) else f"{at}.source[{position}]"
                )
                error(place, str(exc))
        transform = item.get("transform") or ""
        if transform and transform not in TRANSFORMS:
            error(f"{at}.transform", f"Unknown transform; one of {', '.join(TRANSFORMS)}.")
        values = item.get("values") or {}
        if not isinstance(values, dict):
            error(
                f"{at}.values",
                'Must map vendor values to canonical ones: {"Fixed Fee": "fixed_fee"}.',
            )
            values = {}
        join = item.get("join")
        if join is not None and not isinstance(join, str):
            error(f"{at}.join", 'Must be the text that joins the sources, e.g. " ".')
        for flag in ("strict", "required"):
            if flag in item and not isinstance(item[flag], bool):
                error(f"{at}.{flag}", "Must be true or false.")
        rules.append(
            Rule(
                field=name,
                sources=tuple(sources),
                steps=tuple(steps),
                refs=tuple(isinstance(s, dict) for s in listed),
                transform=transform,
                values=values,
                strict=bool(item.get("strict", False)),
                default=item.get("default", ABSENT),
                required=bool(item.get("required", False)),
                join=join if isinstance(join, str) else None,
            )
        )
    matches = _matches_read(document.get("match"), error)
    if errors:
        raise MappingInvalid(errors)
    return FieldMap(when=tuple(when), rules=tuple(rules), document=document, matches=matches)


def _matches_read(raw: Any, error: Callable[[str, str], None]) -> dict[str, Match]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        error(
            "match",
            f'Must map a kind of record to how it is found: {{"resource": {MATCH_EXAMPLE}}}.',
        )
        return {}
    matches = {}
    for kind, item in raw.items():
        at = f"match.{kind}"
        if kind not in MATCHABLE:
            error(at, f"No kind {kind!r} is found by a match; one of {', '.join(MATCHABLE)}.")
            continue
        if not isinstance(item, dict):
            error(at, f"Must be {MATCH_EXAMPLE}.")
            continue
        for key in sorted(set(item) - MATCH_KEYS):
            error(f"{at}.{key}", f"Unknown key; a match has {', '.join(sorted(MATCH_KEYS))}.")
        read = item.get("read")
        if not isinstance(read, str) or not read.startswith("/") or read.count("{id}") != 1:
            error(
                f"{at}.read",
                "Must be the record's path on the system's base URL with {id} once where its "
                "id goes, e.g. /v2/users/{id}.",
            )
        try:
            steps = path_parse(item.get("source"))
        except PathError as exc:
            error(f"{at}.source", str(exc))
            steps = ()
        if item.get("field") not in MATCHABLE[kind]:
            error(f"{at}.field", f"A {kind} is found by one of {', '.join(MATCHABLE[kind])}.")
        if isinstance(read, str) and steps and item.get("field") in MATCHABLE[kind]:
            matches[kind] = Match(kind, read, item["source"], steps, item["field"])
    return matches


# --- applying -------------------------------------------------------------------------------


@dataclass
class Applied:
    """What a mapping built from one record: the canonical ``data``, where each field came
    from (``data.number`` → vendor path) and the faults by vendor path."""

    data: dict[str, Any]
    sources: dict[str, str]
    errors: dict[str, list[str]]

    def error(self, path: str, message: str) -> None:
        messages = self.errors.setdefault(path, [])
        if message not in messages:
            messages.append(message)


def mapping_apply(
    mapping: FieldMap, root: Any, *, prefix: str = "", ref_prefix: str = ""
) -> Applied:
    """Maps the record ``root``; vendor paths are named under ``prefix`` (where the record
    sits in the request). A ``ref`` source's value becomes ``ref_prefix`` and the id."""
    applied = Applied(data={}, sources={}, errors={})
    for rule in mapping.rules:
        value, at, is_ref = _value_of(rule, root)
        where = _join(
            prefix, at or (rule.sources[0] if rule.sources else f"(default of {rule.field})")
        )
        applied.sources[f"data.{rule.field}"] = where
        if not present(value):
            if rule.default is not ABSENT:
                _place(applied.data, rule.field, rule.default)
            elif rule.required:
                applied.error(where, REQUIRED)
            continue
        if is_ref:
            if not ref_prefix:
                applied.error(where, "This system names no records by its own ids.")
            elif isinstance(value, (bool, dict, list)) or not _text(value):
                applied.error(where, "Must be the record's id, a single value.")
            else:
                _place(applied.data, rule.field, f"{ref_prefix}{_text(value)}")
            continue
        try:
            value = _converted(rule, value)
        except TransformError as exc:
            applied.error(where, str(exc))
            continue
        _place(applied.data, rule.field, value)
    return applied


def _value_of(rule: Rule, root: Any) -> tuple[Any, str, bool]:
    """The first present value of the rule's sources, where it was, and whether that
    source is a cross-reference."""
    refs = rule.refs or (False,) * len(rule.steps)
    found = [
        (value, at, is_ref)
        for steps, is_ref in zip(rule.steps, refs, strict=True)
        for value, at in path_read(root, steps)
        if present(value)
    ]
    if not found:
        return None, "", False
    if rule.join is not None:
        parts = [value for value, _, _ in found if isinstance(value, (str, int, Decimal))]
        return rule.join.join(_text(part) for part in parts), found[0][1], False
    return found[0]


def _is_source(source: Any) -> bool:
    return isinstance(source, str) or (
        isinstance(source, dict) and set(source) == {"ref"} and isinstance(source["ref"], str)
    )


def _converted(rule: Rule, value: Any) -> Any:
    if rule.values:
        key = _text(value) if not isinstance(value, (dict, list)) else None
        if key is not None and key in rule.values:
            value = rule.values[key]
        elif key is not None and key.lower() in {k.lower(): k for k in rule.values}:
            value = rule.values[{k.lower(): k for k in rule.values}[key.lower()]]
        elif rule.strict:
            allowed = ", ".join(repr(k) for k in rule.values)
            raise TransformError(f"{value!r} is not a mapped value; the mapping knows {allowed}.")
    if rule.transform:
        return TRANSFORMS[rule.transform][0](value)
    if isinstance(value, (dict, list)):
        raise TransformError("Must be a single value, not an object or a list.")
    return _plain(value)


def _place(data: dict[str, Any], name: str, value: Any) -> None:
    if "." in name:
        head, tail = name.split(".", 1)
        inner = data.setdefault(head, {})
        if isinstance(inner, dict):
            inner[tail] = value
        return
    data[name] = value


def _join(prefix: str, relative: str) -> str:
    if not prefix:
        return relative
    return prefix + relative if relative.startswith("[") else f"{prefix}.{relative}"
