"""The business logic never imports kfp: it runs and is tested without it."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "components" / "core"
# Dotted names under core, packages (core/stages) included.
MODULES = sorted(".".join(p.relative_to(CORE).with_suffix("").parts).removesuffix(".__init__")
                 for p in CORE.rglob("*.py") if p.relative_to(CORE).parts != ("__init__.py",))


@pytest.mark.parametrize("module", MODULES)
def test_core_module_has_no_kfp_import_statement(module):
    path = CORE.joinpath(*module.split(".")).with_suffix(".py")
    tree = ast.parse((path if path.exists() else path.with_suffix("") / "__init__.py").read_text())
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
