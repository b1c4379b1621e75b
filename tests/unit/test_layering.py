"""Data flows one way through the package (data -> networks -> losses -> checkpoint -> training -> scoring ->
evaluation -> studies -> API -> CLI): a module may import only from its own layer or a lower one. Checked on the
source with `ast`, function-local imports included, so a lazy import cannot hide a back edge (that is how the two
removed ones lived: nets.fanogan -> checkpoint -> nets, and training.distributed -> scoring)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "wildgan"

# lowest first; a module's layer is that of its top-level name under wildgan (a subpackage counts as one)
LAYERS: list[set[str]] = [
    {"errors", "fileio", "markdown", "progress", "runlog"},
    {"config"},
    {"devices"},
    {"data"},
    {"nets"},
    {"losses"},
    {"checkpoint"},          # storage of networks: training writes it, scoring reads it
    {"training"},
    {"scoring"},
    {"thresholds"},
    {"evaluation"},
    {"studies"},
    {"detector", "export"},  # the Python API over training + scoring + thresholds
    {"cli", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path, root: Path = PKG) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path: Path, node: ast.ImportFrom, root: Path) -> str:
    """The absolute module a `from X import ...` reads from."""
    if node.level == 0:
        return node.module or ""
    mod = _module_name(path, root)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _is_module(name: str, root: Path) -> bool:
    p = root.parent / Path(*name.split("."))
    return p.with_suffix(".py").is_file() or p.is_dir()


def _imports(path: Path, root: Path = PKG) -> list[tuple[int, str]]:
    """(line, absolute wildgan module) for every import of the package in the file, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == \
                "import_module" and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str):
            # importlib.import_module("wildgan.x") / (".x", package): an import the statements below do not show
            name = node.args[0].value
            if name.startswith("."):
                name = _resolve(path, ast.ImportFrom(module=name.lstrip(".") or None, names=[],
                                                     level=len(name) - len(name.lstrip("."))), root)
            if name.split(".")[0] == "wildgan":
                out.append((node.lineno, name))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "wildgan"]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node, root)
            if base.split(".")[0] != "wildgan":
                continue
            # `from .. import checkpoint` imports the submodule wildgan.checkpoint, not the package
            out += [(node.lineno, f"{base}.{a.name}" if _is_module(f"{base}.{a.name}", root) else base)
                    for a in node.names]
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None      # None: the package root (only __version__ and lazy names)


def _sources() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_every_module_has_a_layer():
    missing = sorted({_layer(_module_name(p)) for p in _sources()} - set(RANK) - {None})
    assert not missing, f"new top-level modules need a place in LAYERS: {missing}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_go_down_the_layers(path: Path):
    me = _layer(_module_name(path))
    if me is None:
        return
    bad = []
    for line, target in _imports(path):
        other = _layer(target)
        if other is None:
            # the root defines __version__ and resolves Detector lazily; only __version__ may be taken from below
            continue
        if RANK[other] > RANK[me]:
            bad.append(f"{path.relative_to(PKG)}:{line} imports {target} ({other} is above {me})")
    assert not bad, "\n".join(bad)


def test_package_root_is_only_asked_for_its_version():
    # `from wildgan import Detector` inside the package would be a back edge through the root's lazy __getattr__,
    # and so would `import wildgan` followed by wildgan.Detector
    bad = []
    for path in _sources():
        if _layer(_module_name(path)) in (None, "cli", "__main__"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name == "wildgan" for a in node.names):
                bad.append(f"{path.relative_to(PKG)}:{node.lineno} imports the package root")
            if isinstance(node, ast.ImportFrom) and _resolve(path, node, PKG) == "wildgan":
                names = {a.name for a in node.names if not _is_module(f"wildgan.{a.name}", PKG)}
                if names - {"__version__"}:
                    bad.append(f"{path.relative_to(PKG)}:{node.lineno} takes {sorted(names)} from the package root")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    # a back edge inside a function, written relatively, must be found (the checker itself can fail)
    fake = tmp_path / "wildgan"
    for d in ("nets", "scoring"):
        (fake / d).mkdir(parents=True)
        (fake / d / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "checkpoint.py").write_text("")
    (fake / "nets" / "x.py").write_text("def f():\n    from .. import checkpoint\n    from ..scoring import run\n"
                                         "    import wildgan.losses\n")
    got = _imports(fake / "nets" / "x.py", fake)
    assert got == [(2, "wildgan.checkpoint"), (3, "wildgan.scoring"), (4, "wildgan.losses")]
    assert all(RANK[_layer(t)] > RANK["nets"] for _, t in got)


def test_modules_of_one_layer_do_not_import_each_other_in_a_cycle():
    # a layer of several modules (errors / fileio / markdown, detector / export) allows imports both ways: a cycle
    # there is a back edge too
    edges: dict[str, set[str]] = {}
    for path in _sources():
        me = _layer(_module_name(path))
        for _, target in _imports(path):
            other = _layer(target)
            if me and other and other != me and RANK[other] == RANK[me]:
                edges.setdefault(me, set()).add(other)
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a in edges.get(b, set()) and a < b)
    assert not cycles, cycles


def test_the_checker_sees_import_module_and_the_bare_root(tmp_path):
    fake = tmp_path / "wildgan"
    (fake / "nets").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "nets" / "__init__.py").write_text("")
    (fake / "nets" / "x.py").write_text("import importlib\nimportlib.import_module('wildgan.scoring.run')\n"
                                         "importlib.import_module('..studies', 'wildgan.nets')\n")
    assert _imports(fake / "nets" / "x.py", fake) == [(2, "wildgan.scoring.run"), (3, "wildgan.studies")]


def test_the_two_training_loops_share_helpers_through_modules_below_both():
    # the pGAN loop and the f-AnoGAN loop are siblings: what both use (data placement, stop and resume, the
    # --on-divergence rule) lives in modules that import neither loop, so neither loop imports the other
    loops = {"wildgan.training.loop", "wildgan.training.fanogan_loop"}
    training = PKG / "training"
    for path in sorted(training.glob("*.py")):
        me = _module_name(path)
        if me not in loops | {"wildgan.training.data_placement", "wildgan.training.resume",
                              "wildgan.training.divergence"}:
            continue
        got = {t for _, t in _imports(path)} & loops - {me}
        assert not got, f"{me} imports {sorted(got)}"


# the data layer's modules, lowest first: each may import only those before it (readers.py was one module of 2,341
# lines; its parts import one way so that each can be read, and tested, without the ones above it)
DATA_ORDER = ["transforms", "download", "imageset", "dataset_files", "image_decode", "decode_pool", "readers",
              "source_identity", "train_score_files", "eval_files", "run_temps", "splits", "inputs", "replay"]


def test_the_data_modules_import_one_way():
    data = PKG / "data"
    listed = {p.stem for p in data.glob("*.py")} - {"__init__"}
    assert listed == set(DATA_ORDER), f"place the data modules in DATA_ORDER: {sorted(listed ^ set(DATA_ORDER))}"
    bad = []
    for name in DATA_ORDER:
        for line, target in _imports(data / f"{name}.py"):
            parts = target.split(".")
            other = parts[2] if len(parts) > 2 and parts[1] == "data" else None
            if other is not None and other in DATA_ORDER and DATA_ORDER.index(other) >= DATA_ORDER.index(name):
                bad.append(f"data/{name}.py:{line} imports {target} (not below {name} in DATA_ORDER)")
    assert not bad, "\n".join(bad)


# the CLI's modules, lowest first: each may import only those before it (cli.py was one module of 2,699 lines; split
# by command, the parts every command shares below the commands, and a command that runs another (train's
# --evaluate, demo's train) above it). The package's __init__ (main, make_parser) imports them all.
CLI_ORDER = ["common", "threshold_notes", "distributed", "parser", "config_args", "signals", "evaluate", "export",
             "info", "report", "score", "train", "study", "demo", "__main__"]


def test_the_cli_modules_import_one_way():
    cli = PKG / "cli"
    listed = {p.stem for p in cli.glob("*.py")} - {"__init__"}
    assert listed == set(CLI_ORDER), f"place the cli modules in CLI_ORDER: {sorted(listed ^ set(CLI_ORDER))}"
    bad = []
    for name in CLI_ORDER:
        for line, target in _imports(cli / f"{name}.py"):
            parts = target.split(".")
            if parts[:2] != ["wildgan", "cli"]:
                continue
            other = parts[2] if len(parts) > 2 else "__init__"      # (the package itself: main, above every module)
            if other == "__init__" and name == "__main__":
                continue                                            # (python -m wildgan.cli runs main)
            if other == "__init__" or CLI_ORDER.index(other) >= CLI_ORDER.index(name):
                bad.append(f"cli/{name}.py:{line} imports {target} (not below {name} in CLI_ORDER)")
    assert not bad, "\n".join(bad)


def _private_imports(path: Path, root: Path = PKG) -> list[str]:
    """`from wildgan.X import _name` in a module other than X: a helper that another module needs is public."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and _resolve(path, node, root).split(".")[0] == "wildgan":
            out += [f"{path.relative_to(root)}:{node.lineno} imports {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return out


def test_no_module_imports_another_modules_private_names():
    # the data layer's split left 22 underscore names imported across modules; they are public now, and stay so
    bad = [line for path in _sources() for line in _private_imports(path)]
    assert not bad, "\n".join(bad)


def test_the_private_import_check_sees_lazy_relative_imports(tmp_path):
    fake = tmp_path / "wildgan"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "data" / "__init__.py").write_text("")
    (fake / "data" / "a.py").write_text("def f():\n    from .b import _helper, public\n")
    assert _private_imports(fake / "data" / "a.py", fake) == ["data/a.py:2 imports _helper"]


# modules that only some functions need, imported inside them: the entry points below must not load them
_DEFERRED = ("PIL", "matplotlib", "onnx", "tensorboard", "scipy", "sklearn", "safetensors", "torch", "wildgan.data")


@pytest.mark.parametrize("code, also_absent", [
    ("import wildgan", ("numpy",)),
    # the parser of every command (`wildgan --help`): its option defaults come from wildgan.config, not thresholds
    ("import wildgan.cli; wildgan.cli.make_parser()", ("numpy",)),
    # thresholds reads scores through data.inputs (the whole data layer, PIL, urllib/ssl) only when it is given some
    ("import wildgan.thresholds", ()),
])
def test_entry_points_do_not_import_what_only_some_functions_need(code: str, also_absent: tuple[str, ...]):
    import os
    import subprocess
    import sys

    names = _DEFERRED + also_absent
    check = f"{code}; import sys; print([n for n in {names!r} if n in sys.modules])"
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]", f"{code!r} imported {out.strip()}"
