"""The bench sits on top of the layers: it may import anything of the project, and nothing imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings


def product_files() -> list[Path]:
    """Every module of the project's own apps but the bench (the simulator included, wherever
    it lives), found from INSTALLED_APPS so that an app added or moved is checked too."""
    tops = set()
    for config in apps.get_app_configs():
        # The project's packages sit at the top of the repository; installed libraries do not.
        top = settings.BASE_DIR / config.name.partition(".")[0]
        if config.name != "bench" and Path(config.path).is_relative_to(top):
            tops.add(top)  # integrations.simulator is walked with integrations
    return sorted(path for top in tops for path in top.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    # Every node, not only the module's top: an import inside a function counts the same.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_check_covers_every_product_package():
    tops = {path.relative_to(settings.BASE_DIR).parts[0] for path in product_files()}

    assert {"controltower", "integrations", "canonical"} <= tops
    assert "bench" not in tops and ".venv" not in tops


def test_nothing_of_the_product_imports_the_bench():
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)} imports {name}"
        for path in product_files()
        for name in imported_modules(path)
        if name == "bench" or name.startswith("bench.")
    ]
    assert offenders == []


def test_the_check_sees_an_import_of_the_bench_inside_a_function(tmp_path):
    module = tmp_path / "late.py"
    module.write_text(
        "def run():\n    from bench.ingest import run_bench\n    import bench.tower\n"
    )

    assert imported_modules(module) == ["bench.ingest", "bench.tower"]
