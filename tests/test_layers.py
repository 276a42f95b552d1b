"""The package reads top to bottom: every module imports only from its own layer or below, no
technique imports another, no import cycle, and no function-local import of jaxnas dodges one."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jaxnas"
# Rooms by layer, lowest first (DESIGN: errors/config -> spaces, data, optim -> supernet,
# parallel -> train and evaluate -> techniques -> search, analysis -> cli).
LAYERS = (("errors", "config", "runtime", "schema"), ("spaces", "data", "optim"),
          ("supernet", "parallel"), ("evaluate",), ("train",), ("techniques",),
          ("search", "analysis"), ("cli",))
# Function-local imports kept on purpose: the CLI and the top package import no layer before
# a command needs it (`jaxnas --help` and `import jaxnas` stay fast).
LAZY = ("cli", "__init__")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("jaxnas",) + parts)
        yield name.removesuffix(".__init__"), path


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(module):
    room = _room(module)
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"{module}: room {room!r} is in no layer of the test")


def _imports(path, module):
    """`(top_level, local)`: the jaxnas modules imported at module level and inside functions."""
    tree = ast.parse(path.read_text())
    top, local = set(), set()
    functions = [n for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(n) for f in functions for n in ast.walk(f)}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        names = [n for n in names if n.startswith("jaxnas.") or n == "jaxnas"]
        (local if id(node) in inside else top).update(names)
    return top, local


def test_every_module_imports_only_its_layer_or_below():
    problems = []
    for module, path in _modules():
        top, local = _imports(path, module)
        if local and _room(module) not in LAZY:
            problems.append(f"{module} imports {sorted(local)} inside a function")
        if _room(module) == "__init__":
            continue
        for imported in top:
            if imported == "jaxnas" or _room(imported) == "__init__":
                continue
            if _layer(imported) > _layer(module):
                problems.append(f"{module} imports {imported} from a higher layer")
            if (_room(module) == _room(imported) == "techniques" and len(module.split(".")) > 2
                    and len(imported.split(".")) > 2
                    and module.split(".")[2] != imported.split(".")[2]):
                problems.append(f"technique {module} imports technique {imported}")
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    graph = {}
    known = {m for m, _ in _modules()}
    for module, path in _modules():
        top, _ = _imports(path, module)
        graph[module] = {m for m in top if m in known and m != module}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open" and not m.startswith(n + "."):  # a package's own parts
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
