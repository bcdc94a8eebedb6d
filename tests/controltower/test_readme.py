"""The README's "Try it" examples, copied as a newcomer copies them, against a live tower."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from integrations.choices import TransactionState
from integrations.models import Transaction

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def try_it_blocks() -> list[str]:
    """The shell blocks of the README's "Try it: push a signed event" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Try it: push a signed event\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def answers(output: str) -> list[object]:
    """The JSON documents the commands printed one after the other (curl -s adds no newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while True:
        at = output.find("{", at)
        if at < 0:
            return found
        document, at = decoder.raw_decode(output, at)
        found.append(document)


def run(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_has_the_two_blocks_a_newcomer_copies():
    first, second = try_it_blocks()
    assert first.startswith("TOWER=http://127.0.0.1:8000")
    assert "createtoken admin" in second


def test_the_readmes_curl_examples_push_an_event_and_read_it_back_with_a_token(
    live_server, demo, celery_worker, worker_env
):
    first, second = try_it_blocks()
    # The one line a newcomer adapts: the address `make run` printed.
    first = re.sub(r"^TOWER=\S+", f"TOWER={live_server.url}", first, flags=re.MULTILINE)
    env = {**worker_env, "TOWER": live_server.url}

    pushed = answers(run(first + '\necho "TX=$TX"\n', env))
    assert pushed[0]["accepted"] == 1
    assert pushed[0]["duplicates"] == 0
    tx_id = pushed[0]["transaction_ids"][0]

    deadline = time.monotonic() + 60
    while Transaction.objects.get(pk=tx_id).state != TransactionState.SUCCEEDED:
        assert time.monotonic() < deadline, Transaction.objects.get(pk=tx_id).last_error
        time.sleep(0.2)

    transaction, customers = answers(run(second, {**env, "TX": str(tx_id)}))
    assert transaction["id"] == tx_id
    assert transaction["event_type"] == "customer.upserted"
    assert transaction["state"] == "succeeded"
    assert [c["name"] for c in customers["results"]] == ["Wayne Enterprises"]
    assert customers["results"][0]["number"] == "C-2001"
