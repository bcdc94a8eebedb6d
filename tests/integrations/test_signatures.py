from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.signatures import SignatureError, compute, sign, verify

BODY = b'{"type":"customer.upserted"}'
NOW = 1_800_000_000


def reason(header, *, secrets=("s3cret",), body=BODY, now=NOW) -> str | None:
    try:
        verify(header, body, list(secrets), tolerance_seconds=300, now=now)
    except SignatureError as exc:
        return exc.reason
    return None


def test_it_accepts_a_correct_signature():
    assert reason(sign("s3cret", BODY, timestamp=NOW)) is None


def test_it_names_a_missing_header():
    assert reason(None) == "missing"
    assert reason("  ") == "missing"


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=deadbeef", f"t={NOW}", f"t={NOW},t={NOW},v1=00", "t=,v1=00"],
)
def test_it_names_a_malformed_header(header):
    assert reason(header) == "malformed"


def test_it_refuses_a_timestamp_more_than_five_minutes_off():
    assert reason(sign("s3cret", BODY, timestamp=NOW - 301)) == "expired"
    assert reason(sign("s3cret", BODY, timestamp=NOW + 301)) == "expired"
    assert reason(sign("s3cret", BODY, timestamp=NOW - 299)) is None


def test_it_refuses_a_signature_made_with_another_secret():
    assert reason(sign("other", BODY, timestamp=NOW)) == "mismatch"


def test_it_refuses_a_body_changed_after_signing():
    assert reason(sign("s3cret", BODY, timestamp=NOW), body=BODY + b" ") == "mismatch"


def test_it_accepts_any_one_of_several_signatures_while_a_secret_rotates():
    header = f"t={NOW},v1={compute('old', BODY, NOW)},v1={compute('new', BODY, NOW)}"
    assert reason(header, secrets=["new"]) is None
    assert reason(header, secrets=["old"]) is None
    assert reason(header, secrets=["neither"]) == "mismatch"


def test_it_refuses_when_no_secret_is_configured():
    assert reason(sign("s3cret", BODY, timestamp=NOW), secrets=[]) == "no_secret"


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40))
def test_a_signature_verifies_for_any_body_and_secret(body, secret):
    verify(sign(secret, body, timestamp=NOW), body, [secret], tolerance_seconds=300, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "t=\u00b9\u2078\u2070\u2070\u2070\u2070\u2070\u2070\u2070\u2070,v1=" + "0" * 64,
        "t=" + "1" * 5000 + ",v1=" + "0" * 64,
        f"t={NOW},v1=" + "\u00e9" * 64,
        f"t={NOW},v1=" + "0" * 63 + "\u0660",
    ],
    ids=["superscript-digits", "thousands-of-digits", "non-ascii-v1", "arabic-indic-digit-v1"],
)
def test_a_timestamp_or_digest_that_is_not_plain_ascii_is_malformed_not_an_error(header):
    assert reason(header) == "malformed"


@given(st.text(max_size=300))
def test_any_header_text_gets_a_verdict_and_never_an_error(header):
    assert reason(header) in {"missing", "malformed", "expired", "mismatch"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t", "v1", "v0", "T", " t", ""]),
            st.text(min_size=0, max_size=80)
            | st.from_regex(r"[0-9]{1,20}", fullmatch=True)
            | st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True),
        ),
        max_size=5,
    )
)
def test_any_list_of_key_value_parts_gets_a_verdict_and_never_an_error(parts):
    header = ",".join(f"{key}={value}" for key, value in parts)
    assert reason(header) in {"missing", "malformed", "expired", "mismatch"}
