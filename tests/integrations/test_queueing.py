"""One queue per flow: each flow's work goes to its own queue, a worker takes every queue by
default or only the ones it is given, and a flood in one flow's queue does not hold up
another flow's work (a real worker process on the run's broker)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import load_command_class

from controltower.celery import app
from controltower.operations.demo import demo_load
from integrations.choices import FlowKind, TransactionState
from integrations.models import Flow, Transaction
from integrations.services.queueing import PROCESS_TASK, transactions_enqueue
from integrations.supervisor import worker_argv
from tests.factories.operations import FlowTransactionFactory
from tests.support.broker import queued_chunks
from tests.support.inbound import contract_event, customer_event, events_send
from tests.support.worker import WorkerProcess, purge_broker, wait_for

FLOOD = 200


@pytest.mark.django_db
def test_each_flow_s_work_goes_to_its_own_queue(django_capture_on_commit_callbacks):
    purge_broker()
    txs = {kind: FlowTransactionFactory(kind=kind) for kind in FlowKind}
    with django_capture_on_commit_callbacks(execute=True):
        transactions_enqueue(transactions=list(txs.values()))
    for kind, tx in txs.items():
        assert Flow.objects.get(kind=kind).queue == f"flow.{kind}"
        assert queued_chunks(f"flow.{kind}") == [[tx.pk]]
    assert settings.CELERY_TASK_QUEUES_NAMES == ["default", *(f"flow.{k}" for k in FlowKind)]


def test_a_worker_takes_every_queue_by_default_or_only_the_ones_it_is_given():
    command = load_command_class("integrations", "run_worker")
    parser = command.create_parser("manage.py", "run_worker")
    default = parser.parse_args([]).queues.split(",")
    assert default == settings.CELERY_TASK_QUEUES_NAMES
    dedicated = parser.parse_args(["--queues=flow.time_to_billing"]).queues.split(",")
    argv = worker_argv(node="billing@host-2", queues=dedicated, celery_args=["--concurrency=4"])
    assert "--hostname=billing@host-2" in argv and "--concurrency=4" in argv
    [queues] = [arg for arg in argv if arg.startswith("--queues=")]
    # Its own queue (the supervisor's heartbeats) beside the flow it is given, and no other.
    assert queues.split("=", 1)[1].split(",")[0] == "flow.time_to_billing"
    assert len(queues.split(",")) == 2


@pytest.mark.django_db(transaction=True)
def test_a_flood_in_one_flow_s_queue_does_not_hold_up_another_flow_s_work(worker_env):
    demo_load()
    [done] = events_send(customer_event("C-7400"))
    master_data = Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC).queue
    purge_broker()
    # The flood: chunks waiting in the master-data queue (each names a customer already
    # applied, so a worker finds it done and takes the next), all sent before the contract.
    with app.producer_or_acquire() as producer:
        for _ in range(FLOOD):
            app.send_task(PROCESS_TASK, args=[[done]], queue=master_data, producer=producer)
    [signed] = events_send(contract_event("K-7401"), system="clm", process=False)
    worker = WorkerProcess(worker_env)
    worker.start(purge=False)
    try:
        wait_for(
            # Claimed: a worker took it (its call to the PSA, which this test does not run,
            # may then take its time and wait to be retried).
            lambda: Transaction.objects.filter(pk=signed)
            .exclude(state=TransactionState.RECEIVED)
            .exists(),
            timeout=60,
            what="a worker to take the signed contract",
            on_timeout=worker.tail,
        )
        with app.connection_for_read() as connection:
            waiting = connection.SimpleQueue(master_data).qsize()
    finally:
        worker.stop()
        purge_broker()
    # In one queue shared by every flow the contract would have waited for the whole flood.
    assert waiting > FLOOD // 2, f"only {waiting} of {FLOOD} flood chunks were still waiting"
