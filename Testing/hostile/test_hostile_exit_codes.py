"""Every failure of a command is one line and an exit status: 2 for bad input (also an OSError about the user's
paths raised in the middle of the work), 1 for a bug in Virtual Biopsy, 130 on Ctrl-C; the traceback only with
``--debug``, before or after the subcommand. Inputs stay unchanged and nothing is left half written.
"""

from __future__ import annotations

import errno
import importlib
import os

import pytest
from hostile import assertRefused, guarded, runCommand
from outputInputs import commandArguments, errorLines, leftovers, outputName, tinyCase

#: Where each command's work starts (the logic its function calls), as module and attribute.
WORK = {
    "synth": ("VirtualBiopsy.data.virtualCohort", "generateCohort"),
    "extract": ("VirtualBiopsy.extract.extraction", "extractFeatures"),
    "harmonize": ("VirtualBiopsy.commands.harmonizeMethods", "harmonizeImage"),
    "combat": ("VirtualBiopsy.harmonize.combat.cohortTables", "fitTables"),
    "explore": ("VirtualBiopsy.extract.exploration", "exploreFeatures"),
    "report": ("VirtualBiopsy.cohort.report", "buildReport"),
    "run": ("VirtualBiopsy.cohort.cohortRun", "run"),
}

BUG_LINE = (
    "virtual-biopsy {command}: internal error: RuntimeError: planted bug in {name}. This is a bug in Virtual "
    "Biopsy; {hint}"
)


@pytest.fixture
def case(tmp_path):
    return tinyCase(tmp_path / "inputs")


def _plant(monkeypatch, command: str, error: BaseException) -> None:
    module, name = WORK[command]

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(importlib.import_module(module), name, fail)


def _outputFor(command, tmp_path):
    out = tmp_path / "results" / outputName(command)
    if command == "report":
        out.mkdir(parents=True)
    else:
        out.parent.mkdir()
    return out


@pytest.mark.parametrize("command", sorted(WORK))
def test_a_bug_in_a_logic_is_one_line_with_exit_1_and_no_traceback(command, case, tmp_path, monkeypatch):
    _plant(monkeypatch, command, RuntimeError(f"planted bug in {WORK[command][1]}"))
    out = _outputFor(command, tmp_path)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, out))
    assertRefused(result, code=1)
    hint = "rerun with --debug for the traceback and report it"
    assert errorLines(result) == [BUG_LINE.format(command=command, name=WORK[command][1], hint=hint)]
    assert leftovers(tmp_path) == [] and [p.name for p in out.parent.iterdir()] == (
        [out.name] if command == "report" else []
    )


@pytest.mark.parametrize("command", ["synth", "extract", "combat", "report"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_before_or_after_the_subcommand(command, where, case, tmp_path, monkeypatch):
    _plant(monkeypatch, command, RuntimeError(f"planted bug in {WORK[command][1]}"))
    argv = commandArguments(command, case, _outputFor(command, tmp_path))
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with guarded([case["image"].parent]):
        result = runCommand(*argv)
    assert result.code == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr and "in fail" in result.stderr
    hint = "the traceback is above; please report it"
    assert errorLines(result) == [BUG_LINE.format(command=command, name=WORK[command][1], hint=hint)]


PATH_ERRORS = [
    (errno.EACCES, "cannot use {path}: permission denied; check the permissions of the file and its folder"),
    (errno.EROFS, "cannot use {path}: read-only file system; choose --out on a disk you can write to"),
    (errno.ENAMETOOLONG, "cannot use {path}: name too long; use a shorter file or folder name"),
    (errno.ENOTDIR, "cannot use {path}: a part of the path is a file, not a folder; choose a path whose folders"),
    (errno.EISDIR, "cannot use {path}: it is a folder, not a file; give the path of a file"),
]


@pytest.mark.parametrize(("code", "words"), PATH_ERRORS, ids=[errno.errorcode[c] for c, _ in PATH_ERRORS])
@pytest.mark.parametrize("command", ["synth", "harmonize"])
def test_an_os_error_about_a_path_during_the_work_is_bad_input(command, code, words, case, tmp_path, monkeypatch):
    path = tmp_path / "elsewhere" / "file.nrrd"
    _plant(monkeypatch, command, OSError(code, os.strerror(code), str(path)))
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, _outputFor(command, tmp_path)))
    assertRefused(result, f"virtual-biopsy {command}: error: " + words.format(path=path))
    assert len(errorLines(result)) == 1 and leftovers(tmp_path) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
@pytest.mark.parametrize("command", ["extract", "combat"])
def test_a_full_disk_without_a_file_name_names_the_output(command, code, case, tmp_path, monkeypatch):
    """``write()`` on a full disk says no file name: the message names the command's output."""
    _plant(monkeypatch, command, OSError(code, os.strerror(code)))
    out = _outputFor(command, tmp_path)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments(command, case, out))
    reason = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
    assert errorLines(result) == [
        f"virtual-biopsy {command}: error: {reason} while writing {out}; nothing was written there; free space or "
        "choose another --out"
    ]
    assert result.code == 2 and not out.exists()


def test_ctrl_c_is_exit_130_in_one_line(case, tmp_path, monkeypatch):
    _plant(monkeypatch, "synth", KeyboardInterrupt())
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments("synth", case, _outputFor("synth", tmp_path)))
    assert result.code == 130 and errorLines(result) == ["virtual-biopsy synth: interrupted"]
    assert "Traceback" not in result.output and leftovers(tmp_path) == []


def test_running_out_of_memory_is_bad_input_with_the_fix(case, tmp_path, monkeypatch):
    _plant(monkeypatch, "extract", MemoryError("Unable to allocate 29.1 TiB"))
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments("extract", case, _outputFor("extract", tmp_path)))
    assertRefused(result, "error: out of memory (MemoryError: Unable to allocate 29.1 TiB)", "settings that need less")


def test_our_own_errors_keep_their_message_and_exit_2(case, tmp_path, monkeypatch):
    from VirtualBiopsy.errors import DependencyError, requirePackage

    try:
        requirePackage("virtualBiopsyNoSuchPackage", "no-such-package")
    except DependencyError as error:
        missing = error
    _plant(monkeypatch, "harmonize", missing)
    with guarded([case["image"].parent]):
        result = runCommand(*commandArguments("harmonize", case, _outputFor("harmonize", tmp_path)))
    assertRefused(result, f"virtual-biopsy harmonize: error: {missing}", "python -m pip install -c constraints.txt")
