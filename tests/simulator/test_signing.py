"""The simulator signs what it sends to the tower's published X-CT-Signature scheme."""

from __future__ import annotations

import pytest

from integrations import signatures
from simulator.signing import SIGNATURE_HEADER, signature_header

BODY = b'[{"id":"evt-0001"}]'


def test_the_signature_is_the_hex_hmac_of_the_timestamp_and_the_raw_body():
    # As the README's example computes it with openssl, for t=1793611800.
    assert signature_header(secret="demo-crm-secret", body=BODY, timestamp=1793611800) == (
        "t=1793611800,v1=a9b4efbcce4e5263e3654c728ca8b1d113a912594420a284fbdcbb874ce2112f"
    )


def test_the_tower_accepts_the_simulators_signature_and_refuses_it_on_another_body():
    header = signature_header(secret="demo-crm-secret", body=BODY)
    assert SIGNATURE_HEADER == signatures.HEADER
    signatures.verify(header, BODY, ["demo-crm-secret"], tolerance_seconds=300)
    with pytest.raises(signatures.SignatureError) as refused:
        signatures.verify(header, BODY + b" ", ["demo-crm-secret"], tolerance_seconds=300)
    assert refused.value.reason == "mismatch"
