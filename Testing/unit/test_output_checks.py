"""Output locations checked before the work, failed writes named by their final path, ordinary file modes."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import stat

import numpy as np
import pytest
import SimpleITK as sitk

import VirtualBiopsy.files.outputChecks as outputChecks
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import (
    MINIMUM_FREE_BYTES,
    atomicOutput,
    checkOutputLocation,
    explainPathError,
    makeTemporaryFile,
    makeTemporaryFolder,
    ordinaryFileMode,
    ordinaryFolderMode,
    stagedOutputFolder,
    temporarySibling,
    writeImage,
    writeImageAtomically,
    writeTextAtomically,
)
from VirtualBiopsy.files.atomicFiles import currentUmask


def test_the_nearest_existing_folder_is_where_the_output_is_created(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "table.csv").write_text("x\n")
    assert checkOutputLocation(tmp_path / "a" / "b" / "features.csv") == tmp_path
    assert checkOutputLocation(tmp_path / "run") == tmp_path / "run"
    assert checkOutputLocation(tmp_path / "table.csv") == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "table.csv"]  # the write check left nothing


def test_a_path_under_a_file_is_refused_with_the_file_named(tmp_path):
    (tmp_path / "notes.txt").write_text("x\n")
    with pytest.raises(InputError, match=r"--out .*/notes.txt/x/y cannot be written: .*notes.txt is a file, not a"):
        checkOutputLocation(tmp_path / "notes.txt" / "x" / "y", "--out")


def test_a_kernel_folder_is_refused_even_for_root():
    with pytest.raises(InputError, match=r"creating a file in /proc failed \(it is a special folder that accepts no"):
        checkOutputLocation("/proc/results", "--out")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("n" * 256, "is too long (256 bytes; this file system allows 255 per name, 40 of them kept for the hidden"),
        ("n" * 216, "is too long (216 bytes; this file system allows 255 per name, 40 of them kept"),
    ],
)
def test_names_too_long_for_the_output_or_its_temporary_copy_are_refused(name, words, tmp_path):
    with pytest.raises(InputError) as refused:
        checkOutputLocation(tmp_path / name, "--out")
    assert words in str(refused.value) and "Use a name of at most 215 bytes" in str(refused.value)


def test_a_name_that_leaves_room_for_the_temporary_copy_passes(tmp_path):
    assert checkOutputLocation(tmp_path / ("n" * 215)) == tmp_path


def test_a_folder_name_too_long_anywhere_in_the_path_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"is too long \(300 bytes; this file system allows 255 per name\)"):
        checkOutputLocation(tmp_path / ("d" * 300) / "out.csv", "--out")


def test_a_path_too_long_as_a_whole_is_refused(tmp_path):
    deep = tmp_path.joinpath(*["d" * 200] * 21)
    with pytest.raises(InputError, match=r"the path is too long \(\d+ bytes; this system allows 4096"):
        checkOutputLocation(deep / "out.csv")


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied")],
)
def test_a_folder_where_no_file_can_be_created_is_refused(code, reason, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(outputChecks.tempfile, "mkstemp", refuse)
    with pytest.raises(InputError) as refused:
        checkOutputLocation(tmp_path / "out", "--out")
    assert f"creating a file in {tmp_path} failed ({reason}); nothing was written" in str(refused.value)
    assert f"or make {tmp_path} writable" in str(refused.value)


def test_a_folder_without_free_inodes_is_refused_with_the_space_fix(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outputChecks.tempfile, "mkstemp", refuse)
    with pytest.raises(InputError, match=r"failed \(no space left on device\); .* or free some space there\."):
        checkOutputLocation(tmp_path / "out", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can create files in a folder without write permission")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        with pytest.raises(InputError, match="permission denied"):
            checkOutputLocation(locked / "out")
    finally:
        locked.chmod(0o755)


def test_too_little_free_space_is_refused_with_the_amounts(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(outputChecks.shutil, "disk_usage", lambda path: usage._replace(free=12_345_678))
    with pytest.raises(InputError) as refused:
        checkOutputLocation(tmp_path / "out", "--out")
    assert "has only 12.3 MB free and Virtual Biopsy needs at least 100.0 MB" in str(refused.value)
    assert checkOutputLocation(tmp_path / "out", needBytes=12_000_000) == tmp_path
    assert MINIMUM_FREE_BYTES == 100_000_000


def test_explained_errors_name_the_output_not_its_temporary_copy(tmp_path):
    out = tmp_path / "cohort"
    staged = tmp_path / ".cohort.ab12cd34.partial" / "VB0001" / "T1c.nrrd"
    outputs = [("--out", out)]
    full = OSError(errno.ENOSPC, "No space left on device", str(staged))
    assert explainPathError(full, outputs) == (
        f"no space left on device while writing {out}; nothing was written there; free space or choose another --out"
    )
    tooLarge = explainPathError(OSError(errno.EFBIG, "File too large"), outputs)
    assert tooLarge is not None and tooLarge.startswith("file too large for the file system or for the file size")
    assert tooLarge.endswith(
        f"while writing {out}; nothing was written there; free space, raise the limit or choose another --out"
    )
    denied = OSError(errno.EACCES, "Permission denied", "/srv/data/t1.nrrd")
    assert explainPathError(denied, outputs) == (
        "cannot use /srv/data/t1.nrrd: permission denied; check the permissions of the file and its folder, or "
        "choose another path"
    )


@pytest.mark.parametrize("code", [errno.ENOENT, errno.ECONNREFUSED, errno.EMFILE, None])
def test_other_os_errors_are_not_explained_as_bad_paths(code):
    assert explainPathError(OSError(code, "x", "/tmp/x") if code else OSError("x")) is None


def test_a_failed_write_names_the_final_path_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(OSError) as failed:
        with temporarySibling(target) as temporary:
            raise OSError(errno.ENOSPC, "No space left on device", str(temporary))
    assert failed.value.filename == str(target) and failed.value.errno == errno.ENOSPC
    with pytest.raises(OSError) as unnamed:
        with temporarySibling(target):
            raise OSError(errno.EFBIG, "File too large")
    assert unnamed.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_folder_names_the_place_under_the_output(tmp_path):
    out = tmp_path / "cohort"
    with pytest.raises(OSError) as failed:
        with stagedOutputFolder(out) as staging:
            raise OSError(errno.ENOSPC, "No space left on device", str(staging / "VB0001" / "T1c.nrrd"))
    assert failed.value.filename == str(out / "VB0001" / "T1c.nrrd")
    with pytest.raises(OSError) as companion:
        with atomicOutput(tmp_path / "seg.nrrd", overwrite=False) as staged:
            raise OSError(errno.ENOSPC, "No space left on device", str(staged))
    assert companion.value.filename == str(tmp_path / "seg.nrrd")
    assert list(tmp_path.iterdir()) == []


def test_an_image_cut_short_at_the_file_size_limit_is_an_error(tmp_path, monkeypatch):
    image = sitk.GetImageFromArray(np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32))
    written = writeImage(image, tmp_path / "whole.nrrd")
    size = written.stat().st_size
    import resource

    monkeypatch.setattr(
        resource, "getrlimit", lambda which: (size, size) if which == resource.RLIMIT_FSIZE else (-1, -1)
    )
    with pytest.raises(OSError) as cut:
        writeImageAtomically(image, tmp_path / "cut.nrrd")
    assert cut.value.errno == errno.EFBIG and cut.value.filename == str(tmp_path / "cut.nrrd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.nrrd"]


def test_an_image_writer_failure_is_explained_when_the_disk_is_full(tmp_path, monkeypatch):
    image = sitk.Image(4, 4, 4, sitk.sitkUInt8)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(outputChecks.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    monkeypatch.setattr(sitk, "WriteImage", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("ImageFileWriter")))
    with pytest.raises(OSError) as full:
        writeImageAtomically(image, tmp_path / "mask.nrrd")
    assert full.value.errno == errno.ENOSPC and full.value.filename == str(tmp_path / "mask.nrrd")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask022", "umask077", "umask002"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_umask_is_read_without_changing_it(umask):
    assert currentUmask() == umask and os.umask(umask) == umask
    assert ordinaryFileMode() == 0o666 & ~umask and ordinaryFolderMode() == 0o777 & ~umask


def test_every_writer_gives_the_ordinary_modes(umask, tmp_path):
    file, folder = 0o666 & ~umask, 0o777 & ~umask
    assert _mode(writeTextAtomically("x\n", tmp_path / "a.txt")) == file
    assert _mode(writeImageAtomically(sitk.Image(4, 4, 4, sitk.sitkUInt8), tmp_path / "m.nii.gz")) == file
    with atomicOutput(tmp_path / "seg.nrrd", overwrite=False) as staged:
        staged.write_bytes(b"seg")
        (staged.parent / "seg.json").write_text("{}")
    assert (_mode(tmp_path / "seg.nrrd"), _mode(tmp_path / "seg.json")) == (file, file)
    with stagedOutputFolder(tmp_path / "cohort") as staging:
        (staging / "case").mkdir()
        writeTextAtomically("x\n", staging / "case" / "t.csv")
    assert (_mode(tmp_path / "cohort"), _mode(tmp_path / "cohort" / "case")) == (folder, folder)
    assert _mode(tmp_path / "cohort" / "case" / "t.csv") == file
    handle, temporary = makeTemporaryFile(tmp_path, prefix=".t.")
    os.close(handle)
    assert _mode(temporary) == file and _mode(makeTemporaryFolder(tmp_path, prefix=".d.")) == folder


def test_the_routed_writers_give_the_ordinary_modes(umask, tmp_path):
    from VirtualBiopsy.commands.harmonize import writeVolumeAtomically
    from VirtualBiopsy.harmonize.combat.modelFile import writeNewText

    assert _mode(writeNewText("{}\n", tmp_path / "model.json")) == 0o666 & ~umask
    image = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    assert _mode(writeVolumeAtomically(image, tmp_path / "t1.nii.gz")) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "t1.nii.gz"]


@pytest.mark.parametrize("writer", ["text", "companions", "folder"])
@pytest.mark.parametrize("where", ["under a file", "in /proc"])
def test_the_writers_refuse_an_impossible_path_with_our_error(writer, where, tmp_path):
    """The API's own writers (``saveNode`` uses :func:`atomicOutput`), called without the command line's check."""
    (tmp_path / "notes.txt").write_text("x\n")
    base = tmp_path / "notes.txt" / "sub" if where == "under a file" else pathlib.Path("/proc")
    words = "notes.txt is a file, not a folder" if where == "under a file" else "special folder that accepts no"
    with pytest.raises(InputError, match=words):
        if writer == "text":
            writeTextAtomically("x\n", base / "t.csv")
        elif writer == "companions":
            with atomicOutput(base / "seg.nrrd", overwrite=False) as staged:
                staged.write_bytes(b"x")
        else:
            with stagedOutputFolder(base / "cohort"):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
