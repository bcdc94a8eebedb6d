"""An import with downstream pushes off, against the simulated ERP and PSA over real HTTP:
it records where the records already are and creates nothing there."""

from __future__ import annotations

import pytest

from canonical.models import Project
from integrations.choices import ImportRowOutcome
from integrations.models import ImportRow, SyncState
from integrations.services.imports import import_create, import_run

pytestmark = pytest.mark.django_db(transaction=True)

ERP = "/erp/services/rest/record/v1"
CONTRACTS = (
    "number,customer,legal_entity,currency,billing_model,start_date,rate_card,"
    "project.code,project.name\n"
    "K-7501,C-1001,US01,USD,time_and_materials,2024-01-01,RC-US-STD,P-7501,Data platform\n"
    "K-7502,C-1001,US01,USD,time_and_materials,2024-02-01,RC-US-STD,P-7502,Not in the ERP\n"
)


def test_pushes_off_match_what_the_erp_and_psa_hold_and_create_nothing_there(simulator):
    # The history exists downstream already: the customer and one project, in both systems.
    simulator.put(
        f"{ERP}/customer/eid:C-1001",
        json={"externalId": "C-1001", "companyName": "Acme Corporation"},
    ).raise_for_status()
    simulator.put(
        f"{ERP}/job/eid:P-7501", json={"externalId": "P-7501", "companyName": "Data platform"}
    ).raise_for_status()
    simulator.post(
        "/psa/api/v1/projects",
        json={"code": "P-7501", "name": "Data platform"},
        headers={"Idempotency-Key": "seed-p-7501"},
    ).raise_for_status()
    jobs_before = simulator.get(f"{ERP}/job").json()["items"]
    psa_before = simulator.get("/psa/api/v1/projects").json()["results"]

    job = import_create(
        kind="contracts",
        content=CONTRACTS.encode(),
        file_name="contracts.csv",
        system_slug="clm",
        push_downstream=False,
    )
    job = import_run(job_id=job.pk)

    assert (job.created, job.blocked) == (1, 1)
    project = Project.objects.get(code="P-7501")
    held = dict(
        SyncState.objects.filter(object_id=project.pk, system__slug__in=("erp", "psa"))
        .filter(content_type__model="project")
        .values_list("system__slug", "external_id")
    )
    assert held == {
        "erp": next(j["id"] for j in jobs_before if j["externalId"] == "P-7501"),
        "psa": str(psa_before[0]["id"]),
    }
    # Nothing was created in either system, not even for the contract they do not hold.
    assert simulator.get(f"{ERP}/job").json()["items"] == jobs_before
    assert len(simulator.get("/psa/api/v1/projects").json()["results"]) == len(psa_before)
    blocked = ImportRow.objects.get(job=job, outcome=ImportRowOutcome.BLOCKED)
    assert blocked.number == 2
    assert "holds no job with external id P-7502" in blocked.reason
    assert "downstream pushes off" in blocked.reason
