"""The business logic never imports kfp: it runs and is tested without it."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "components" / "core"
MODULES = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_core_module_has_no_kfp_import_statement(module):
    tree = ast.parse((CORE / f"{module}.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "kfp" not in imported


def test_importing_all_core_modules_loads_no_kfp():
    code = (
        "import sys\n"
        + "".join(f"import sealtrain.components.core.{m}\n" for m in MODULES)
        + "print(sorted(m for m in sys.modules if m == 'kfp' or m.startswith('kfp.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
