"""``loom compose`` and ``loom apply --dry-run`` give the same verdict on the same files (issue 10: apply refused
specs that compose accepted). Each case edits a copy of the shipped library example; compose runs offline for every
product in the files, apply against the local database (SQLite and PostgreSQL), and a refusal names the same problem
in both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from portal.cli import main
from tests.portal._apply import counts, library_copy, library_with_a_clash

PRODUCTS = ("library", "library-eu")
SOURCES = "  sources: [{service: members}, {service: loans}, {service: catalog}]\n"


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        text = path.read_text()
        assert old in text, f"the example's {name} no longer has {old!r}"
        path.write_text(text.replace(old, new, 1))

    return edit


def _clash(folder: Path) -> None:
    library_with_a_clash(folder)


def _link(operation: str) -> Callable[[Path], None]:
    link = f"{{type: Loan, field: profile, service: members, operation: {operation}, arguments: {{id: memberId}}}}"
    return _edit("product.yaml", SOURCES, f"{SOURCES}  links: [{link}]\n")


def _encoded_ref(folder: Path) -> None:
    """A component whose name needs percent-encoding in its JSON pointer (``#/definitions/Transaction%20Id``)."""
    _edit("catalog.openapi.yaml", "'#/components/schemas/Problem'", "'#/components/schemas/The%20Problem'")(folder)
    _edit("catalog.openapi.yaml", "    Problem:\n", "    The Problem:\n")(folder)


ACCEPTED: dict[str, Callable[[Path], None]] = {
    "as shipped": lambda folder: None,
    "a percent-encoded $ref": _encoded_ref,
    "a deprecated implementation field (graphql-js accepts it)": _edit(
        "loans.graphql",
        "type Member {\n  id: ID!\n}",
        "type Member {\n  id: ID!\n}\n\ninterface Dated {\n  dueOn: String\n}\n\n"
        'type Stamp implements Dated {\n  dueOn: String @deprecated(reason: "gone")\n}',
    ),
    "a link between services that share no entity": _link("member"),
}

REFUSED: dict[str, tuple[Callable[[Path], None], str]] = {
    "a type clash": (_clash, "Member.displayName"),
    "an unresolvable $ref": (
        _edit("catalog.openapi.yaml", "'#/components/schemas/Problem'", "'#/components/schemas/Nowhere'"),
        "Nowhere",
    ),
    "a field defined twice": (
        _edit("loans.graphql", "  memberId: ID!\n", "  memberId: ID!\n  memberId: ID!\n"),
        "memberId",
    ),
    "a link to an operation the service lacks": (_link("memberById"), "memberById"),
}


@pytest.fixture
def local_db(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """``loom apply`` reads the database from the environment, as it does for people."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    return engine


def _verdicts(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[bool, str, bool, str]:
    composed = [main(["compose", "-f", str(folder), "--product", product]) for product in PRODUCTS]
    compose_err = capsys.readouterr().err
    applied = main(["apply", "-f", str(folder), "--dry-run"])
    apply_err = capsys.readouterr().err
    return all(code == 0 for code in composed), compose_err, applied == 0, apply_err


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_compose_and_apply_both_accept(
    case: str, local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library_copy(tmp_path / "lib")
    ACCEPTED[case](folder)
    composed, compose_err, applied, apply_err = _verdicts(folder, capsys)
    assert (composed, applied) == (True, True), (compose_err, apply_err)


@pytest.mark.parametrize("case", list(REFUSED))
def test_compose_and_apply_both_refuse_naming_the_problem(
    case: str, local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, named = REFUSED[case]
    folder = tmp_path / "lib"
    if edit is not _clash:
        library_copy(folder)
    edit(folder)
    before = counts(local_db)
    composed, compose_err, applied, apply_err = _verdicts(folder, capsys)
    assert (composed, applied) == (False, False), (compose_err, apply_err)
    assert named in compose_err and named in apply_err, (compose_err, apply_err)
    assert counts(local_db) == before  # a refused dry run changes nothing
