"""The README's and docs/pytest.md's example is the code of tests/integration/test_readme_example.py, verbatim."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "integration" / "test_readme_example.py"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def example_code() -> str:
    """The example file without its module docstring: what the documents show."""
    text = EXAMPLE.read_text(encoding="utf-8")
    docstring = ast.parse(text).body[0]
    assert isinstance(docstring, ast.Expr), "the example file starts with its docstring"
    rest = text.splitlines()[docstring.end_lineno :]
    return "\n".join(rest).strip() + "\n"


def example_blocks(document: Path) -> list[str]:
    """The ```python blocks of ``document`` that hold the example (they define ``summarise``)."""
    blocks = _PYTHON_BLOCK.findall(document.read_text(encoding="utf-8"))
    return [block for block in blocks if "def summarise(" in block]


def test_docs_show_the_example_verbatim() -> None:
    assert example_blocks(ROOT / "docs" / "pytest.md") == [example_code()]


def test_readme_shows_the_example_verbatim() -> None:
    blocks = example_blocks(ROOT / "README.md")
    if not blocks:
        pytest.skip(
            "README.md has no copy of the pytest example yet: paste the section from docs/pytest.md "
            "('Example: test your app through a 429 storm') where README.md says <!-- pytest-example -->"
        )
    assert blocks == [example_code()], (
        "README.md's example differs from tests/integration/test_readme_example.py: "
        "copy the file's code (everything after its docstring) into the README's ```python block"
    )
