"""The report folder is replaced all at once: a build that fails leaves the earlier report as it was and no
staging folder behind; a build that succeeds replaces the whole folder."""

from __future__ import annotations

import contextlib
import io

import pytest
from runFolderFixture import copyRunFolder, runFolder  # noqa: F401

from VirtualBiopsy.cli import main
from VirtualBiopsy.cohort.report import build

pytestmark = pytest.mark.slow


def test_report_is_replaced_atomically(runFolder, tmp_path, monkeypatch):  # noqa: F811
    run = copyRunFolder(runFolder, tmp_path / "run")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        assert main(["report", str(run)]) == 0
    index = run / "report" / "index.html"
    assert f"Report: {index}" in printed.getvalue()
    before = {p: p.read_bytes() for p in (run / "report").rglob("*") if p.is_file()}
    (run / "report" / "stale.txt").write_text("from an earlier report")

    def broken(*arguments, **keywords):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(build, "patientPage", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            build.buildReport(run)
    assert {p: p.read_bytes() for p in (run / "report").rglob("*") if p.is_file() and p.name != "stale.txt"} == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".") and p.name != ".run.lock") == []

    assert build.buildReport(run) == index
    assert not (run / "report" / "stale.txt").exists()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".") and p.name != ".run.lock") == []
    assert sorted(p.relative_to(run) for p in before) == sorted(
        p.relative_to(run) for p in (run / "report").rglob("*") if p.is_file()
    )
