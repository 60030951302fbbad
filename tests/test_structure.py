"""The shape docs/architecture.md promises, checked: modules a newcomer can hold in their
head, models below services, one unit of work, imports at the top."""

import ast
import pathlib
import re

APP = pathlib.Path(__file__).resolve().parent.parent / "app"


def _modules():
    return sorted(APP.rglob("*.py"))


def test_no_module_over_600_lines():
    long = {str(p.relative_to(APP.parent)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def test_models_import_no_service_or_view():
    pattern = re.compile(r"^\s*(from|import) app\.(services|views)", re.M)
    offenders = [str(p) for p in (APP / "models").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_views_leave_rollback_to_the_unit_of_work():
    count = sum(p.read_text().count("session.rollback()") for p in (APP / "views").rglob("*.py"))
    assert count <= 3


def test_imports_sit_at_the_top_of_their_module():
    inner = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner += [
                    f"{path.relative_to(APP.parent)}:{sub.lineno}"
                    for sub in ast.walk(node)
                    if isinstance(sub, (ast.Import, ast.ImportFrom))
                ]
    assert len(inner) <= 20, inner


def test_no_code_in_the_app_starts_a_thread():
    """Long work goes to the job queue, figures come from roll-ups: no request (and no module)
    starts a thread of its own (gunicorn's and the WSGI server's threads are theirs)."""
    starts = re.compile(r"\bThread\s*\(|\bTimer\s*\(|ThreadPoolExecutor|_thread\.start_new")
    found = [f"{p.relative_to(APP)}:{n}" for p in APP.rglob("*.py")
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if starts.search(line)]  # fmt: skip
    assert found == []
