"""The bench sits on top of the layers: it may import anything of the project, and nothing imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

# The product packages; the simulator lives in integrations/simulator/.
PRODUCT = ("controltower", "integrations", "canonical")


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


def test_nothing_of_the_product_imports_the_bench():
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)} imports {name}"
        for package in PRODUCT
        for path in sorted((settings.BASE_DIR / package).rglob("*.py"))
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
