"""Hostile de-identification inputs: bad key files, OUT inside IN, a non-empty OUT, a key that would travel with
the data, a truncated file, a burned-in image, a DICOMDIR and a text file among good images.

Every case runs ``virtual-biopsy dicom deidentify`` inside :func:`guarded` (inputs byte for byte unchanged, no
planted identifier in any file under OUT) and asserts the exit status and the words of the fix, or exactly which
files were written and which were skipped with which reason.
"""

from __future__ import annotations

import csv
import os
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, assertRefused, guarded, runCommand

pydicom = pytest.importorskip("pydicom")

import VirtualBiopsy.commands.dicom as dicomCommand  # noqa: E402
from VirtualBiopsy.commands import dicomDeidentify  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.deidentify.keyFile import makeKey  # noqa: E402
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms  # noqa: E402


@pytest.fixture(autouse=True)
def deidentifyAction(monkeypatch):
    """Register the ``deidentify`` action where ``commands/dicom.py`` does not (yet) do it."""
    original = dicomCommand.addParser

    def addParser(commands) -> None:
        original(commands)
        actions = commands.choices["dicom"]._subparsers._group_actions[0]
        if "deidentify" not in actions.choices:
            dicomDeidentify.addParser(actions)

    monkeypatch.setattr(dicomCommand, "addParser", addParser)


def _series(folder: pathlib.Path, slices: int = 4) -> list[pathlib.Path]:
    name, patientId, birth, accession = PLANTED_IDENTIFIERS[0], PLANTED_IDENTIFIERS[3], *PLANTED_IDENTIFIERS[1:3]
    image = sitk.GetImageFromArray(np.arange(slices * 16 * 16, dtype=np.int16).reshape(slices, 16, 16))
    header = SeriesHeader(name, patientId, birth, accession, uid("s"), uid("se"), uid("f"), 1, PROTOCOLS["T2"])
    return writeSeries([image], folder, header)


@pytest.fixture
def export(tmp_path):
    source = tmp_path / "in"
    paths = _series(source / "DOE_series")
    (tmp_path / "private").mkdir()
    key = makeKey(tmp_path / "private" / "key")
    return source, paths, key


def _deidentify(source, out, key, *extra):
    return runCommand("dicom", "deidentify", source, out, "--key", key, "--workers", "1", *extra)


def _skipped(out: pathlib.Path) -> list[str]:
    with open(out / "deidentification-skipped.csv", newline="") as stream:
        return sorted(row["reason"] for row in csv.DictReader(stream))


def test_missing_key(export, tmp_path):
    source, _, _ = export
    with guarded([source], [tmp_path / "out"]):
        result = _deidentify(source, tmp_path / "out", tmp_path / "absent")
    assertRefused(result, "does not exist", "--make-key")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_short_key(export, tmp_path):
    source, _, _ = export
    short = tmp_path / "private" / "short"
    short.write_text("tooshort\n")
    short.chmod(0o600)
    with guarded([source], [tmp_path / "out"]):
        result = _deidentify(source, tmp_path / "out", short)
    assertRefused(result, "holds 8 bytes", "at least 32", "--make-key")


def test_world_readable_key(export, tmp_path):
    source, _, key = export
    key.chmod(0o644)
    with guarded([source], [tmp_path / "out"]):
        result = _deidentify(source, tmp_path / "out", key)
    assertRefused(result, "mode 0644", f"chmod 600 {key}")


def test_out_inside_in(export):
    source, _, key = export
    with guarded([source]):
        result = _deidentify(source, source / "out", key)
    assertRefused(result, "inside the DICOM folder", "never written")


def test_non_empty_out_and_key_inside_out(export, tmp_path):
    source, _, key = export
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("x")
    with guarded([source], [out]):
        assertRefused(_deidentify(source, out, key), "is not empty", "--resume")
        inside = tmp_path / "fresh" / "key"
        assertRefused(_deidentify(source, tmp_path / "fresh", inside, "--new-key"), "never travel with the data")
    assert not inside.exists()


def test_make_key_refuses_to_overwrite(export):
    _, _, key = export
    assert os.stat(key).st_mode & 0o777 == 0o600
    before = key.read_bytes()
    assertRefused(runCommand("dicom", "deidentify", "--make-key", key), "never overwritten")
    assert key.read_bytes() == before


def test_truncated_burned_in_dicomdir_and_text_are_skipped_the_rest_written(export, tmp_path):
    source, paths, key = export
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) - 300])  # a truncated file
    burned = pydicom.dcmread(paths[2])
    burned.BurnedInAnnotation = "YES"
    burned.save_as(paths[2])
    (source / "notes.txt").write_text("DOE^JANE NHS-943-476-5919\n")
    directory = pydicom.dcmread(paths[0])
    directory.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    directory.save_as(source / "DICOMDIR")
    out = tmp_path / "out"
    with guarded([source], [out]):
        result = _deidentify(source, out, key)
    assert result.code == 0, result.output
    assert "2 files written" in result.output and "4 skipped" in result.output
    assert _skipped(out) == ["burned_in", "dicomdir", "not_dicom", "truncated"]
    skippedText = (out / "deidentification-skipped.csv").read_text()
    assert "DOE_series" not in skippedText and "its directory records repeat patient names" in skippedText
    log = (tmp_path / "out-local-log.csv").read_text()  # next to OUT, with the original paths
    assert "DOE_series/IM00002" in log and "truncated" in log
    secret = key.read_bytes().strip()
    written = sorted(path.name for path in out.rglob("*.dcm"))
    sops = [pydicom.dcmread(paths[index], stop_before_pixels=True).SOPInstanceUID for index in (0, 3)]
    assert written == sorted(f"{Pseudonyms(secret).uid(sop)}.dcm" for sop in sops)


def test_allowed_burned_in_is_written_and_flagged(export, tmp_path):
    source, paths, key = export
    burned = pydicom.dcmread(paths[0])
    burned.BurnedInAnnotation = "YES"
    burned.save_as(paths[0])
    out = tmp_path / "out"
    with guarded([source], [out]):
        result = _deidentify(source, out, key, "--allow-burned-in", "--retain-dates", "shift", "--safe-private")
    assert result.code == 0, result.output
    with open(out / "deidentification-flagged.csv", newline="") as stream:
        flagged = list(csv.DictReader(stream))
    assert len(flagged) == 1 and "burned-in" in flagged[0]["reason"]
    assert (out / flagged[0]["output"]).is_file() and len(list(out.rglob("*.dcm"))) == 4


def test_new_key_then_resume(tmp_path):
    source = tmp_path / "in"
    _series(source / "series")
    key = tmp_path / "private" / "key"
    key.parent.mkdir()
    out = tmp_path / "out"
    with guarded([source], [out]):
        first = _deidentify(source, out, key, "--new-key")
        again = _deidentify(source, out, key, "--resume")
    assert first.code == 0 and "4 files written" in first.output, first.output
    assert again.code == 0 and "0 files written, 4 already done" in again.output, again.output
    assert os.stat(key).st_mode & 0o777 == 0o600
