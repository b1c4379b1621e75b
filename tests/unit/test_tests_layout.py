"""The test tree's own layout (tests/README.md): tests/unit mirrors src/wildgan, so that a newcomer finds the tests of
a module by its path; test files are imported by their bare names (pytest's default import mode), so each name is
unique across tests/; and a test file never imports another test file, whose import runs that file's module-level
code (its fixtures, its sys.path changes) and whose tests then depend on where the other file lies: what two files
share lives in tests/helpers, which tests/conftest.py puts on sys.path."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from repo_root import REPO

# tests of the scripts outside the package, named as the repository's folders of them
SCRIPT_FOLDERS = {"tools", "benchmarks"}
# the calls that load a module by a name or a path, as a test file once loaded test_report.py by its path
LOADERS = {"spec_from_file_location", "import_module", "run_path", "SourceFileLoader"}
TEST_FILE = re.compile(r"(^|/)test_\w+\.py$")


def _src_names(src: Path) -> set[str]:
    """The package's subpackages and top-level modules: the names a folder of tests/unit may have."""
    subpackages = {p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in src.glob("*.py") if p.stem not in ("__init__", "__main__")}
    return subpackages | modules


def _imported_test_modules(tree: ast.AST) -> list[str]:
    """The test modules a module imports by name (lazy imports too), or names as a file in a module that loads
    modules by name or path (the path may be built apart from the call, as test_report.py's once was)."""
    found, files, loads = [], [], False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0].startswith("test_")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("test_"):
            found.append(node.module)
        elif isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            loads = loads or called in LOADERS
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and TEST_FILE.search(node.value):
            files.append(node.value)
    return found + (files if loads else [])


def layout_problems(tests: Path, src: Path) -> list[str]:
    """What in the test tree `tests` breaks the layout, against the package's source folder `src`."""
    bad = []
    unit = tests / "unit"
    allowed = _src_names(src) | SCRIPT_FOLDERS
    for folder in sorted(p for p in unit.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if folder.name not in allowed:
            bad.append(f"tests/unit/{folder.name}/ is named for nothing in src/{src.name}/ (nor tools/, benchmarks/)")
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"):
            bad.append(f"tests/unit/{folder.name}/{sub.name}/: one level of folders mirrors the package's")
    for module in sorted(unit.rglob("*.py")):
        if not module.name.startswith("test_") and module.name != "conftest.py":
            bad.append(f"{module.relative_to(tests.parent)} is a helper module: tests/helpers/ holds them")
    seen: dict[str, Path] = {}           # a module's name -> where it was first seen
    for module in sorted(tests.rglob("*.py")):
        if module.name == "conftest.py" or "__pycache__" in module.parts:
            continue
        here = module.relative_to(tests.parent)
        if module.name in seen:
            bad.append(f"{here} has the name of {seen[module.name]} (test files and helpers are imported by their bare "
                       "names)")
        seen[module.name] = here
        for name in _imported_test_modules(ast.parse(module.read_text(encoding="utf-8"))):
            bad.append(f"{here} imports the test module {name}: move what it shares into tests/helpers/")
    return bad


def test_the_test_tree_mirrors_the_package_and_no_test_file_imports_another() -> None:
    assert (REPO / "tests" / "unit" / "data").is_dir() and (REPO / "src" / "wildgan" / "data").is_dir()
    assert layout_problems(REPO / "tests", REPO / "src" / "wildgan") == []


def test_the_checker_finds_each_kind_of_problem(tmp_path: Path) -> None:
    src = tmp_path / "src" / "pkg"
    (src / "data").mkdir(parents=True)
    (src / "data" / "__init__.py").write_text("")
    (src / "config.py").write_text("")
    tests = tmp_path / "tests"
    for folder in ("unit/data", "unit/config", "unit/tools", "unit/misc", "unit/data/readers", "helpers"):
        (tests / folder).mkdir(parents=True, exist_ok=True)
    files = {"unit/conftest.py": "",
             "unit/test_layering.py": "",
             "unit/data/test_readers.py": "from test_layering import PKG\n",
             "unit/config/test_config.py": "def test_x():\n    import test_readers.sub\n",
             "unit/tools/test_tool.py": ("import importlib.util\n"
                                         "spec = importlib.util.spec_from_file_location('m', ROOT / 'test_report.py')\n"
                                         "other = importlib.util.spec_from_file_location('t', ROOT / 'tool.py')\n"),
             "unit/misc/test_misc.py": "",
             "unit/data/readers/test_deep.py": "",
             "unit/data/piles.py": "",
             "helpers/piles.py": "",
             "unit/data/test_layering.py": ""}
    for name, text in files.items():
        (tests / name).write_text(text)
    assert layout_problems(tests, src) == [
        "tests/unit/data/readers/: one level of folders mirrors the package's",
        "tests/unit/misc/ is named for nothing in src/pkg/ (nor tools/, benchmarks/)",
        "tests/unit/data/piles.py is a helper module: tests/helpers/ holds them",
        "tests/unit/config/test_config.py imports the test module test_readers.sub: move what it shares into "
        "tests/helpers/",
        "tests/unit/data/piles.py has the name of tests/helpers/piles.py (test files and helpers are imported by "
        "their bare names)",
        "tests/unit/data/test_readers.py imports the test module test_layering: move what it shares into "
        "tests/helpers/",
        "tests/unit/test_layering.py has the name of tests/unit/data/test_layering.py (test files and helpers are "
        "imported by their bare names)",
        "tests/unit/tools/test_tool.py imports the test module test_report.py: move what it shares into "
        "tests/helpers/"]

