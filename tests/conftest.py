from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _fresh_broker() -> None:
    """Messages left by an earlier run must not reach this run's worker."""
    from django.conf import settings

    folder = settings.BROKER_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _outbound_pool_closed() -> Iterator[None]:
    """A test does not hand its keep-alive connections to the next. A pooled connection to the
    live server keeps that server's request thread, and its database session, open: the
    test database could not be dropped at the end of the run."""
    yield
    from integrations.clients.transport import clients_close

    clients_close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user_with_role(db) -> Callable[..., object]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    counter = iter(range(1, 10_000))

    def make(role: str | None, username: str | None = None):
        user = get_user_model().objects.create_user(
            username=username or f"{role or 'nobody'}-{next(counter)}", password="pw-for-tests-9"
        )
        if role:
            if not Group.objects.filter(name=role).exists():  # flushed by a transactional test
                from django.apps import apps

                from controltower.operations.roles import roles_sync

                roles_sync(apps)
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def api_client_for() -> Callable[..., object]:
    from rest_framework.test import APIClient

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def operator(user_with_role):
    return user_with_role("operator", "olivia")


@pytest.fixture
def demo(db):
    from controltower.operations.demo import demo_load

    return demo_load()


@pytest.fixture
def simulator(live_server) -> Iterator[object]:
    """The demo's systems the tower calls pointed at the simulator over real HTTP, the ERP,
    the PSA and Harvest emptied; yields a client of the simulator that signs each call as
    its system wants."""
    from controltower.operations.demo import demo_load
    from tests.support.simulator import demo_systems_simulated, simulator_client

    demo_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(base, timeout=10) as http:
        for system in ("erp", "psa", "harvest"):
            http.post(f"/{system}/_reset")
        yield http


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker) -> dict[str, str]:
    """The environment a Celery worker process needs to see the test database."""
    from django.db import connection

    from tests.support.worker import worker_environment

    with django_db_blocker.unblock():
        return worker_environment(connection.settings_dict)


@pytest.fixture
def celery_worker(worker_env, transactional_db) -> Iterator[object]:
    """A real Celery worker process on this run's broker and test database."""
    from tests.support.worker import WorkerProcess

    worker = WorkerProcess(worker_env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


# Time compressed for the tests of the runtime's watch: heartbeats every second, a worker
# stuck after 10 s, beat silent after 8 s, the sweep every 2 s re-sending what waited 3 s.
RUNTIME_TIMES = {
    "CT_HEARTBEAT_SECONDS": 1,
    "CT_WORKER_STALL_SECONDS": 10,
    "CT_BEAT_STALL_SECONDS": 8,
    "CT_SWEEP_INTERVAL_SECONDS": 2,
    "CT_RECEIVED_GRACE_SECONDS": 3,
    "CT_RESTART_BACKOFF_CAP_SECONDS": 2,
    "CT_STOP_GRACE_SECONDS": 3,
    "CT_BEAT_RETRY_CAP_SECONDS": 2,
}


@pytest.fixture
def runtime_env(worker_env, settings) -> dict[str, str]:
    """The environment of supervised workers and beat with time compressed; this process's
    settings (the probes, the overview) get the same times."""
    for name, value in RUNTIME_TIMES.items():
        setattr(settings, name, value)
    return {**worker_env, **{name: str(value) for name, value in RUNTIME_TIMES.items()}}


@pytest.fixture
def supervised_worker(runtime_env, transactional_db) -> Iterator[object]:
    """``manage.py run_worker`` as ``make run`` starts it, on this run's broker and database."""
    from tests.support.worker import supervised_worker

    worker = supervised_worker(runtime_env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def supervised_beat(runtime_env, transactional_db) -> Iterator[object]:
    """``manage.py run_beat`` as ``make run`` starts it."""
    from tests.support.worker import supervised_beat

    beat = supervised_beat(runtime_env)
    beat.start(purge=False)
    try:
        yield beat
    finally:
        beat.stop()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"

# How long an expectation waits for the page. Playwright's 5 s is too short when both test
# passes share two cores, each with its own Chromium, live server and worker: a form post and
# its redirect can take longer than that there, and a correct page then fails its test.
BROWSER_EXPECT_MS = 20_000


def pytest_configure(config) -> None:
    try:
        from playwright.sync_api import expect
    except ImportError:  # pragma: no cover - Playwright is a test dependency
        return
    expect.set_options(timeout=BROWSER_EXPECT_MS)


def pytest_collection_modifyitems(config, items) -> None:
    """``CT_TEST_SHARD=k/n`` keeps the test modules of shard ``k`` of ``n``: whole modules,
    the largest first, each to the shard with the fewest tests so far. ``make test`` runs
    each pass as two shards side by side, so that the machine's cores stay busy while a test
    waits on a worker, a server or a browser."""
    shard = os.environ.get("CT_TEST_SHARD", "")
    if not shard:
        return
    k, _, n = shard.partition("/")
    index, count = int(k) - 1, int(n)
    sizes: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        sizes[module] = sizes.get(module, 0) + 1
    loads = [0] * count
    mine: set[str] = set()
    for module in sorted(sizes, key=lambda m: (-sizes[m], m)):
        lightest = loads.index(min(loads))
        loads[lightest] += sizes[module]
        if lightest == index:
            mine.add(module)
    config.hook.pytest_deselected(
        items=[item for item in items if item.nodeid.split("::")[0] not in mine]
    )
    items[:] = [item for item in items if item.nodeid.split("::")[0] in mine]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports the page it saw (address and text) and leaves a screenshot,
    so that a failure on a CI machine can be read from its log."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when != "call" or not report.failed or page is None:
        return
    try:
        text = page.locator("body").inner_text(timeout=2_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{item.name}-failed.png"), full_page=True)
    except Exception as error:  # the page may be gone with the failure
        text = f"(the page could not be read: {error})"
    report.sections.append(("page at failure", f"{page.url}\n{text[:4_000]}"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright drives the system Chromium; CT_REQUIRE_BROWSER=1 makes its absence a failure."""
    if not Path(CHROMIUM).exists():
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CT_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def screenshot(page, request) -> Callable[[str], Path]:
    """Saves the page as a PNG into the ignored artifacts folder, named after the test."""

    def take(label: str = "") -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}{'-' + label if label else ''}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
