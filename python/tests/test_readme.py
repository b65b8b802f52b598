"""The README's Python examples run: every ```python block of README.md and python/README.md is
executed as a program (each must run to its end; their asserts are the checks)."""
import os
import re

import pytest

ROOT = os.environ.get("RINGKERNEL_SOURCE_ROOT",
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _blocks():
    for name in ("README.md", os.path.join("python", "README.md")):
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            text = f.read()
        for i, m in enumerate(re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)):
            line = text.count("\n", 0, m.start()) + 2
            yield pytest.param(name, line, m.group(1), id=f"{name}:{line}")


BLOCKS = list(_blocks())


def test_readmes_have_python_examples():
    assert {b.values[0] for b in BLOCKS} == {"README.md", os.path.join("python", "README.md")}


@pytest.mark.parametrize("name,line,code", BLOCKS)
def test_readme_python_block_runs(name, line, code):
    exec(compile(code, f"{name}:{line}", "exec"), {"__name__": "__readme__"})
