"""The command line's failure rules: which options are outputs checked up front, --debug anywhere, exit codes."""

from __future__ import annotations

import argparse
import pathlib

import pytest

import VirtualBiopsy.cli as cli


def _outputOptions(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every (command, dest) the central check would take as an output, in every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _outputOptions(sub, (*prefix, name))
        elif action.dest in {**cli.OUTPUT_OPTIONS, **cli.COMMAND_OUTPUTS.get(prefix[0] if prefix else "", {})}:
            yield " ".join(prefix), action.dest


def test_the_checked_options_are_exactly_the_outputs():
    """A new command that reads a file under an output's name (``qa --probabilities``) must not be checked."""
    found = set(_outputOptions(cli.buildParser()))
    outs = {
        "run", "demo", "synth", "sample-data", "extract", "robustness", "explore", "qa", "outcome km", "outcome cox",
        "outcome signature", "outcome cluster", "outcome classify", "outcome explain", "outcome cnn train",
        "outcome cnn gradcam", "outcome cnn features", "combat fit", "combat apply", "harmonize",
        "harmonize evaluate", "nyul fit", "styletransfer train", "styletransfer apply", "train", "segment",
        "dicom index", "dicom import-series", "dicom import-rtstruct", "dicom import-seg", "dicom export",
    }  # fmt: skip
    expected = {(command, "out") for command in outs} | {
        ("run", "log_json"),
        ("outcome cnn gradcam", "png"),
        ("register", "out_transform"),
        ("register", "out_image"),
        ("segment", "probabilities"),
        ("segment", "uncertainty"),
        ("segment", "variance"),
        ("report", "folder"),
        ("dicom deidentify", "output"),
    }
    assert found == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["synth", "--out", "c"], [("--out", "c")]),
        (["report", "runs/r1"], [("Run folder", "runs/r1")]),
        (["run", "--manifest", "m.csv", "--check", "--out", "r"], []),
        (["run", "--print-config"], []),
        (["sample-data"], []),
        (
            ["segment", "--model", "m", "--image", "i.nrrd", "--out", "s.seg.nrrd", "--variance", "v.nrrd"],
            [("--out", "s.seg.nrrd"), ("--variance", "v.nrrd")],
        ),
        (["qa", "--probabilities", "p.nrrd", "--out", "qa"], [("--out", "qa")]),
        (
            ["register", "--fixed", "f", "--moving", "m", "--out-transform", "t.tfm", "--out-image", "i.nrrd"],
            [("--out-transform", "t.tfm"), ("--out-image", "i.nrrd")],
        ),
    ],
)
def test_declared_outputs_of_a_parsed_command(argv, expected):
    arguments = cli.buildParser().parse_args(argv)
    assert cli.declaredOutputs(arguments) == [(name, pathlib.Path(path)) for name, path in expected]


def test_debug_is_understood_after_the_subcommand_but_not_after_a_double_dash():
    assert cli._debugFirst(["synth", "--out", "c", "--debug"]) == ["--debug", "synth", "--out", "c"]
    assert cli._debugFirst(["synth", "--", "--debug"]) == ["synth", "--", "--debug"]
    assert cli._debugFirst(["synth"]) == ["synth"]


def test_the_outputs_are_checked_before_the_command_runs(tmp_path, monkeypatch, capsys):
    from VirtualBiopsy.commands import synth

    ran = []
    monkeypatch.setattr(synth, "run", lambda arguments: ran.append(arguments) or 0)
    (tmp_path / "file").write_text("x")
    assert cli.main(["synth", "--out", str(tmp_path / "file" / "cohort")]) == 2
    assert ran == [] and "file is a file, not a folder" in capsys.readouterr().err
    assert cli.main(["synth", "--out", str(tmp_path / "cohort")]) == 0 and len(ran) == 1


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (RuntimeError("boom\n  second line"), 1, "internal error: RuntimeError: boom second line. This is a bug in "),
        (KeyError("column"), 1, "internal error: KeyError: 'column'. This is a bug in Virtual Biopsy; rerun with"),
        (FileNotFoundError(2, "No such file or directory", "/x"), 1, "internal error: FileNotFoundError: [Errno 2]"),
        (PermissionError(13, "Permission denied", "/data/t1.nrrd"), 2, "error: cannot use /data/t1.nrrd: permission"),
        (MemoryError(), 2, "error: out of memory (MemoryError: (no message))"),
    ],
)
def test_each_failure_is_one_line_with_its_exit_status(error, code, line, tmp_path, monkeypatch, capsys):
    from VirtualBiopsy.commands import synth

    def fail(arguments):
        raise error

    monkeypatch.setattr(synth, "run", fail)
    assert cli.main(["synth", "--out", str(tmp_path / "cohort")]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"virtual-biopsy synth: {line}") and "Traceback" not in err
