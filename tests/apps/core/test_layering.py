"""Lower layers never call up: labeling, feedback and projects import nothing from exports,
training or generation — not at the top of a module, not inside a function (that hides a cycle,
it does not remove it), not by a dotted string. They emit domain events instead."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOWER = ("apps/labeling", "apps/feedback", "apps/projects")
UPPER = re.compile(r"^apps\.(exports|training|generation)(\.|$)")
UPPER_LABELS = {"exports", "training", "generation"}


def upward_references(source: str) -> list[tuple[int, str]]:
    """(line, what) for every reference to an upper app in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if UPPER.match(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and UPPER.match(node.module):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if UPPER.match(node.value):  # import_module("apps.training...") and the like
                found.append((node.lineno, node.value))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] in UPPER_LABELS
        ):
            found.append((node.lineno, f"get_model({node.args[0].value!r})"))
    return found


def test_the_check_sees_imports_at_any_depth_and_by_name():
    source = (
        "import os\n"
        "from apps.core import events\n"
        "def f():\n"
        "    from apps.training.models import TaskScore\n"
        "    import apps.exports.webhooks\n"
        "    return import_module('apps.generation.tasks'), apps.get_model('training', 'X')\n"
    )
    assert [line for line, _ in upward_references(source)] == [4, 5, 6, 6]


def test_labeling_feedback_and_projects_never_import_exports_training_or_generation():
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for folder in LOWER
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, what in upward_references(path.read_text())
    ]
    assert offences == []
