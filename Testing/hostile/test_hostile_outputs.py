"""Hostile outputs: impossible, read-only, full and occupied output locations, and the modes of what is written.

Every refusal comes before any work (the command's own function never runs), with exit 2, the words that tell the
user the fix, the inputs unchanged and no file left behind.
"""

from __future__ import annotations

import errno
import os
import pathlib
import stat

import pytest
from hostile import assertRefused, guarded, runCommand
from outputInputs import commandArguments, errorLines, leftovers, outputName, runLimited, tinyCase

import VirtualBiopsy.cli as cli

LOCATION_COMMANDS = ["synth", "extract", "harmonize", "segment", "run", "combat", "qa", "report", "explore", "km"]


@pytest.fixture
def case(tmp_path):
    return tinyCase(tmp_path / "inputs")


@pytest.fixture
def started(monkeypatch):
    """The commands whose own function ran (the work), in order."""
    calls: list[str] = []
    build = cli.buildParser

    def spyingParser():
        parser = build()
        parse = parser.parse_args

        def parseAndSpy(argv=None, namespace=None):
            arguments = parse(argv, namespace)
            work = arguments.run

            def run(parsed):
                calls.append(parsed.command)
                return work(parsed)

            arguments.run = run
            return arguments

        parser.parse_args = parseAndSpy
        return parser

    monkeypatch.setattr(cli, "buildParser", spyingParser)
    return calls


def _snapshot(folder: pathlib.Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@pytest.mark.parametrize("command", LOCATION_COMMANDS)
def test_an_output_under_a_regular_file_is_refused_before_the_work(command, case, tmp_path, started):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    before = _snapshot(tmp_path)
    with guarded([case["image"].parent, blocker]):
        result = runCommand(*commandArguments(command, case, blocker / "sub" / outputName(command)))
    assertRefused(result, "notes.txt is a file, not a folder", "nothing was written", "in a folder")
    assert started == [] and _snapshot(tmp_path) == before


@pytest.mark.parametrize("command", LOCATION_COMMANDS)
def test_an_output_in_proc_is_refused_even_for_root(command, case, tmp_path, started):
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, pathlib.Path("/proc") / outputName(command)))
    assertRefused(result, "cannot be written: creating a file in /proc failed", "special folder", "folder you can")
    assert started == [] and not pathlib.Path("/proc", outputName(command)).exists()


@pytest.mark.parametrize("command", LOCATION_COMMANDS)
def test_a_name_longer_than_the_file_system_allows_is_refused(command, case, tmp_path, started):
    out = tmp_path / ("n" * 300) / outputName(command)
    before = _snapshot(tmp_path)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, out))
    assertRefused(result, "is too long (300 bytes; this file system allows 255 per name)", "Use a name of at most")
    assert started == [] and _snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["synth", "extract", "combat"])
def test_a_name_with_no_room_for_the_temporary_copy_is_refused(command, case, tmp_path, started):
    out = tmp_path / ("n" * (230 - len(outputName(command))) + outputName(command))
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, out))
    assertRefused(result, "is too long (230 bytes", "kept for the hidden temporary copy", "at most 215 bytes")
    assert started == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a folder without write permission (see the /proc cases)")
@pytest.mark.parametrize("command", ["synth", "extract", "qa"])
def test_a_read_only_folder_is_refused_before_the_work(command, case, tmp_path, started):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with guarded([case["image"].parent]):
            result = runCommand(*commandArguments(command, case, locked / outputName(command)))
    finally:
        locked.chmod(0o755)
    assertRefused(result, f"creating a file in {locked} failed (permission denied)", "make", "writable")
    assert started == [] and list(locked.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "code", "words"),
    [
        ("synth", errno.EROFS, "(read-only file system)"),
        ("harmonize", errno.EROFS, "(read-only file system)"),
        ("extract", errno.EACCES, "(permission denied)"),
    ],
)
def test_a_folder_that_refuses_files_is_refused_before_the_work(
    command, code, words, case, tmp_path, started, monkeypatch
):
    """A read-only mount or a folder without permission, as the write check meets them (root passes chmod)."""
    import VirtualBiopsy.files.outputChecks as outputChecks

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path))

    monkeypatch.setattr(outputChecks.tempfile, "mkstemp", refuse)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, tmp_path / "results" / outputName(command)))
    assertRefused(result, f"creating a file in {tmp_path} failed {words}", "in a folder you can write to")
    assert started == [] and not (tmp_path / "results").exists()


@pytest.mark.parametrize("command", ["synth", "extract", "run"])
def test_a_disk_with_too_little_free_space_is_refused_before_the_work(command, case, tmp_path, started, monkeypatch):
    import shutil

    import VirtualBiopsy.files.outputChecks as outputChecks

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(outputChecks.shutil, "disk_usage", lambda path: usage._replace(free=42_000_000))
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, tmp_path / outputName(command)))
    assertRefused(result, "has only 42.0 MB free", "needs at least 100.0 MB", "Free some space or choose another --out")
    assert started == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("command", "limit", "written"),
    [("synth", 20_000, "cohort"), ("extract", 1_500, "features.csv"), ("harmonize", 2_000, "t1c.nrrd")],
)
def test_a_full_disk_mid_run_leaves_nothing_and_says_so(command, limit, written, case, tmp_path):
    """Writes fail for real (a file size limit: EFBIG, as ENOSPC on a full disk) after the work is done."""
    out = tmp_path / "results" / outputName(command)
    out.parent.mkdir()
    with guarded([case["image"].parent]):
        result = runLimited(commandArguments(command, case, out), limit, tmp_path)
    assert result.code == 2, result.output
    assert errorLines(result) == [
        f"virtual-biopsy {command}: error: file too large for the file system or for the file size limit "
        f"(ulimit -f) while writing {out}; nothing was written there; free space, raise the limit or choose "
        "another --out"
    ], result.output
    assert "Traceback" not in result.output
    assert list(out.parent.iterdir()) == [] and leftovers(tmp_path) == []


def test_a_full_disk_while_writing_a_model_file_leaves_nothing(case, tmp_path):
    out = tmp_path / "combat.json"
    with guarded([case["image"].parent]):
        result = runLimited(commandArguments("combat", case, out), 300, tmp_path)
    assert result.code == 2, result.output
    assert errorLines(result)[-1].endswith(
        f"while writing {out}; nothing was written there; free space, raise the limit or choose another --out"
    ), result.output
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("synth", "is not empty (1 entries: keep.txt); nothing was written"),
        ("qa", "is not empty (1 entries: keep.txt)"),
        ("explore", "is not empty (1 entries: keep.txt)"),
        ("km", "is not empty (1 entries: keep.txt)"),
    ],
)
def test_an_existing_non_empty_folder_is_left_as_it_is(command, words, case, tmp_path):
    out = tmp_path / outputName(command)
    out.mkdir()
    (out / "keep.txt").write_text("earlier results\n")
    with guarded([case["image"].parent, out]):
        result = runCommand(*commandArguments(command, case, out))
    assertRefused(result, words)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and leftovers(tmp_path) == []


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("synth", {"cohort", "cohort/manifest.csv", "cohort/VB0001/T1c.nrrd", "cohort/provenance.json"}),
        ("extract", {"features.csv", "features.provenance.json"}),
        ("harmonize", {"t1c.nrrd", "t1c.provenance.json"}),
        ("combat", {"combat.json"}),
        ("km", {"km", "km/km.png", "km/km.svg", "km/km.csv"}),
        ("explore", {"explore", "explore/statistics.xlsx", "explore/summary.json", "explore/distributions.png"}),
    ],
)
def test_every_output_gets_the_mode_an_ordinary_open_gives(command, expected, umask, case, tmp_path):
    results = tmp_path / "results"
    results.mkdir(mode=0o755)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, results / outputName(command)))
    assert result.code == 0, result.output
    written = {str(path.relative_to(results)): path for path in results.rglob("*")}
    assert expected <= set(written) and leftovers(results) == []
    modes = {name: stat.S_IMODE(path.stat().st_mode) for name, path in written.items()}
    wanted = {name: (0o777 if path.is_dir() else 0o666) & ~umask for name, path in written.items()}
    assert modes == wanted
