"""Hostile zip and tar archives through ``models import``: path traversal, absolute paths, symbolic and hard links,
device entries, repeated names (exactly or by case), a file used as a folder, and bombs (a huge expansion ratio)
are refused before a byte is written (exit 2, the entry and the rule named), nothing lands outside the models
folder (the path a traversal would write is the marker), no staging folder is left, and the archive is unchanged.
Clean archives (a zip, a tar.gz made with ``tar -C FOLDER .``) import with the same files as the folder."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import stat
import tarfile
import zipfile

import pytest
from hostile import assertRefused, guarded, runCommand
from modelPayloads import TRAINED, datasetJson, nnunetPlans

ZEROS = bytes(4 << 20)  # compresses about 1,000-fold: a bomb beyond the 200-fold limit


def modelFiles() -> dict[str, bytes]:
    """The files of a small nnU-Net model folder (the checkpoint is never read by an import)."""
    return {
        "plans.json": json.dumps(nnunetPlans()).encode(),
        "dataset.json": json.dumps(datasetJson()).encode(),
        "fold_0/checkpoint_final.pth": b"checkpoint bytes",
    }


def writeZip(path: pathlib.Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> pathlib.Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in modelFiles().items():
            archive.writestr(f"{TRAINED}/{name}", data)
        for info, data in extra:
            archive.writestr(info, data)
    return path


def zipEntry(name: str, kind: int = stat.S_IFREG) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.filename = name  # ZipInfo drops a leading '/' and turns '\\' into '/': keep the hostile name as given
    info.external_attr = (kind | 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def writeTar(path: pathlib.Path, extra: list[tuple[tarfile.TarInfo, bytes]], prefix: str = "") -> pathlib.Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in modelFiles().items():
            info = tarfile.TarInfo(f"{prefix}{TRAINED}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info, data in extra:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def tarEntry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def zipCases(outside: pathlib.Path):
    """(id, entries to add, words of the refusal) of each hostile zip archive."""
    return [
        ("traversal", [(zipEntry(f"{TRAINED}/../../{outside.name}"), b"escaped")], ["has an unsafe path", "'..'"]),
        ("absolute", [(zipEntry(str(outside)), b"escaped")], [f"entry '{outside}' has an unsafe path", "absolute"]),
        ("backslash", [(zipEntry(f"{TRAINED}\\..\\..\\{outside.name}"), b"escaped")], ["backslashes"]),
        ("symlink", [(zipEntry(f"{TRAINED}/link", stat.S_IFLNK), str(outside).encode())], ["is a symbolic link"]),
        ("device", [(zipEntry(f"{TRAINED}/device", stat.S_IFCHR), b"")], ["is a device, pipe or socket"]),
        ("duplicate", [(zipEntry(f"{TRAINED}/plans.json"), b"{}")], [f"repeats the entry '{TRAINED}/plans.json'"]),
        ("caseDuplicate", [(zipEntry(f"{TRAINED}/Plans.JSON"), b"{}")], ["repeats the entry"]),
        ("fileAsFolder", [(zipEntry(f"{TRAINED}/plans.json/inner"), b"{}")], ["is a file whose name other entries"]),
        ("bomb", [(zipEntry(f"{TRAINED}/zeros.bin"), ZEROS)], ["expands", "(a zip bomb?)"]),
    ]


def tarCases(outside: pathlib.Path):
    return [
        ("traversal", [tarEntry(f"{TRAINED}/../../{outside.name}")], ["has an unsafe path", "'..'"]),
        ("absolute", [tarEntry(str(outside))], [f"member '{outside}' has an unsafe path", "absolute"]),
        ("symlink", [tarEntry(f"{TRAINED}/link", tarfile.SYMTYPE, link=str(outside))], ["is a symbolic link"]),
        ("hardlink", [tarEntry(f"{TRAINED}/hard", tarfile.LNKTYPE, link="/etc/passwd")], ["is a hard link"]),
        ("device", [tarEntry(f"{TRAINED}/device", tarfile.CHRTYPE)], ["is a device, pipe or other special"]),
        ("fifo", [tarEntry(f"{TRAINED}/pipe", tarfile.FIFOTYPE)], ["is a device, pipe or other special"]),
        ("duplicate", [tarEntry(f"{TRAINED}/plans.json", data=b"{}")], [f"repeats the member '{TRAINED}/plans.json'"]),
        ("bomb", [tarEntry(f"{TRAINED}/zeros.bin", data=ZEROS)], ["(a tar bomb?)", "nothing was extracted"]),
    ]


def importArchive(archive: pathlib.Path, models: pathlib.Path):
    return runCommand("models", "import", archive, "--id", "archived", "--models-dir", models)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", range(9), ids=[case[0] for case in zipCases(pathlib.Path("/x"))])
def test_a_hostile_zip_is_refused_before_anything_is_written(tmp_path, case):
    outside = tmp_path / "escaped.txt"
    _, extra, words = zipCases(outside)[case]
    archive = writeZip(tmp_path / "model.zip", extra)
    models = tmp_path / "store" / "models"
    with guarded([archive], [tmp_path / "store"], [outside]):
        result = importArchive(archive, models)
    assertRefused(result, f"Zip archive {archive}", *words)
    assert not models.exists() or not any(models.iterdir())


@pytest.mark.parametrize("case", range(8), ids=[case[0] for case in tarCases(pathlib.Path("/x"))])
def test_a_hostile_tar_is_refused_before_anything_is_written(tmp_path, case):
    outside = tmp_path / "escaped.txt"
    _, extra, words = tarCases(outside)[case]
    archive = writeTar(tmp_path / "model.tar.gz", extra)
    models = tmp_path / "store" / "models"
    with guarded([archive], [tmp_path / "store"], [outside]):
        result = importArchive(archive, models)
    assertRefused(result, f"Tar archive {archive}", *words)
    assert not models.exists() or not any(models.iterdir())


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_a_clean_archive_imports_the_files_of_the_folder(tmp_path, kind):
    archive = (
        writeZip(tmp_path / "model.zip", [])
        if kind == "zip"
        else writeTar(tmp_path / "model.tgz", [tarEntry(".", tarfile.DIRTYPE)], prefix="./")
    )
    models = tmp_path / "models"
    with guarded([archive]):
        result = importArchive(archive, models)
    assert result.code == 0, result.output
    assert "Imported model 'archived' (nnunet, inputs T1c; 3 file(s)" in result.output
    stored = {
        path.relative_to(models / "archived").as_posix(): path.read_bytes()
        for path in (models / "archived").rglob("*")
        if path.is_file()
    }
    assert stored == modelFiles()
    manifest = json.loads((models / "models.json").read_text(encoding="utf-8"))
    (entry,) = manifest["models"]
    assert entry["files"] == {name: hashlib.sha256(data).hexdigest() for name, data in modelFiles().items()}
    assert entry["trusted"] is False
