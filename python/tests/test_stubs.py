"""The type stubs (ringkernel/_core.pyi, benchmark.pyi, and cuda.pyi when built with CUDA) against
the built module.

Every public name of the extension and of each of its classes must be declared in the stubs,
with the same parameter names as the binding, so the stubs cannot fall behind the bindings.
The stubs are read from beside the imported package: the build tree and an installed package
both ship them.
"""
import ast
import inspect
import os
import re

import pytest

import ringkernel
from ringkernel import _core

PKG_DIR = os.path.dirname(ringkernel.__file__)


def _parse(name):
    path = os.path.join(PKG_DIR, name)
    assert os.path.isfile(path), f"{name} is not shipped beside the package ({PKG_DIR})"
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), filename=path)


def _top_level(tree):
    """name -> node for every def, class, assignment and import of a stub module."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                out[a.asname or a.name] = node
    return out


def _members(cls_node):
    """name -> [nodes] of a stub class body (overloads give several)."""
    out = {}
    for node in cls_node.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.setdefault(node.target.id, []).append(node)
    return out


def _split_params(text):
    """Top-level comma split of a pybind11 parameter list."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(<{":
            depth += 1
        elif ch in "])>}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _binding_params(name, routine):
    """Parameter-name lists of each pybind11 overload of `routine`, or None when its docstring
    carries no pybind11 signature."""
    doc = routine.__doc__ or ""
    sigs = re.findall(r"^(?:\d+\. )?" + re.escape(name) + r"\((.*)\) -> .*$", doc, flags=re.M)
    if not sigs:
        return None
    out = []
    for s in sigs:
        out.append([p.split(":")[0].strip().lstrip("*") for p in _split_params(s)])
    return out


def _stub_params(node, static):
    args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if node.args.vararg:
        args.append(node.args.vararg.arg)
    if not static and args and args[0] == "self":
        args = args[1:]
    return args


def _is_staticmethod_node(node):
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _public_attrs(cls):
    return [a for a in cls.__dict__ if not a.startswith("_") or a in ("__init__", "__enter__", "__exit__")]


MODULES = [("_core.pyi", _core, {"benchmark", "__version__"}), ("benchmark.pyi", _core.benchmark, set())]
if hasattr(_core, "cuda"):  # built with CUDA: ringkernel/cuda.pyi against _core.cuda
    MODULES.append(("cuda.pyi", _core.cuda, set()))


@pytest.mark.parametrize("stub,module,extra", MODULES, ids=[m[0][:-4] for m in MODULES])
def test_every_public_name_is_declared(stub, module, extra):
    decl = _top_level(_parse(stub))
    names = [n for n in dir(module) if not n.startswith("__")] + sorted(extra)
    missing = [n for n in names if n not in decl]
    assert not missing, f"{stub} lacks {missing}"
    # and nothing is declared that the module lacks (a renamed binding leaves no stale stub)
    stale = [n for n, node in decl.items()
             if not isinstance(node, ast.ImportFrom) and n != "BytesLike" and not hasattr(module, n)]
    assert not stale, f"{stub} declares names the module does not have: {stale}"


def _class_cases():
    for stub, module, _ in MODULES:
        for n in dir(module):
            o = getattr(module, n)
            if inspect.isclass(o) and not issubclass(o, BaseException) and o.__name__ == n:
                yield pytest.param(stub, module, n, id=f"{module.__name__.split('.')[-1]}.{n}")


@pytest.mark.parametrize("stub,module,name", list(_class_cases()))
def test_every_class_member_is_declared_with_the_binding_parameters(stub, module, name):
    cls = getattr(module, name)
    node = _top_level(_parse(stub))[name]
    assert isinstance(node, ast.ClassDef), f"{name} is not a class in {stub}"
    members = _members(node)
    for attr in _public_attrs(cls):
        raw = cls.__dict__[attr]
        if attr == "__init__" and "Initialize self" in (raw.__doc__ or ""):
            continue  # no constructor bound: not constructible from Python
        assert attr in members, f"{stub}: {name}.{attr} is not declared"
        decls = members[attr]
        if isinstance(raw, property) or isinstance(decls[0], ast.AnnAssign):
            continue
        if inspect.iscoroutinefunction(raw):
            assert isinstance(decls[0], ast.AsyncFunctionDef), f"{name}.{attr} is async but not declared async"
            want = [list(inspect.signature(raw).parameters)[1:]]
        else:
            routine = getattr(cls, attr)
            want = _binding_params(attr, routine)
            if want is None:
                continue
            static = isinstance(raw, staticmethod)
            if not static:
                want = [w[1:] if w and w[0] in ("self", "arg0") else w for w in want]
        got = [_stub_params(d, _is_staticmethod_node(d)) for d in decls if not isinstance(d, ast.AnnAssign)]
        if attr in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__exit__"):
            assert len(got[0]) == len(want[0]), f"{name}.{attr}: arity differs"
            continue
        assert sorted(got) == sorted(want), f"{stub}: {name}.{attr} parameters {got} != binding {want}"


def test_package_all_is_defined_or_stubbed():
    with open(os.path.join(PKG_DIR, "__init__.py"), encoding="utf-8") as f:
        pkg = _top_level(ast.parse(f.read()))
    core = _top_level(_parse("_core.pyi"))
    for n in ringkernel.__all__:
        assert hasattr(ringkernel, n), f"ringkernel.__all__ names {n}, which the package lacks"
        node = pkg.get(n)
        if isinstance(node, ast.ImportFrom) and node.module == "_core":
            assert n in core, f"ringkernel.{n} comes from _core but _core.pyi lacks it"
        else:
            assert node is not None or n in core, f"ringkernel.{n} is neither defined in __init__.py nor stubbed"


def test_public_names_have_docstrings():
    undocumented = []
    for n in ringkernel.__all__:
        o = getattr(ringkernel, n)
        if (inspect.isclass(o) or inspect.isroutine(o) or inspect.ismodule(o)) and not (o.__doc__ or "").strip():
            undocumented.append(n)
        if inspect.isclass(o) and o.__module__ == "ringkernel":  # classes written in Python: every method
            for a, v in vars(o).items():
                if not a.startswith("_") and callable(v) and not (getattr(v, "__doc__", "") or "").strip():
                    undocumented.append(f"{n}.{a}")
    assert not undocumented, f"no docstring: {undocumented}"


def test_package_is_marked_typed():
    assert os.path.isfile(os.path.join(PKG_DIR, "py.typed")), "py.typed (PEP 561 marker) is not shipped"


def test_exception_bases_match():
    decl = _top_level(_parse("_core.pyi"))
    for n in ("RingKernelError", "KernelError", "MemoryLimitError", "CudaError", "VulkanError"):
        node = decl[n]
        stub_bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        assert stub_bases == [b.__name__ for b in getattr(_core, n).__bases__], n
        assert any(isinstance(x, ast.AnnAssign) and x.target.id == "code" for x in node.body), f"{n}.code"
