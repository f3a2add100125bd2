"""Hostile manifests: a path that leads outside the manifest's folder (``..``, absolute, ``~``, backslashes, a
symbolic link to a file or a folder outside, ``/etc/passwd``) is refused before anything at it is opened, by
every command that reads a manifest, unless the user names a data root or allows outside paths.

Every case runs with SimpleITK's readers and Python's ``open`` watched: no file outside the manifest's folder and
the data roots may reach them.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import pathlib

import pytest
import SimpleITK as sitk
from hostile import assertRefused, guarded, runCommand
from tablesInputs import writeCohort, writeImage, writeManifestText

from VirtualBiopsy.data.manifest import readManifest
from VirtualBiopsy.errors import InputError

#: Fast extraction settings for the cases that are allowed to run.
FAST = ["--feature-class", "firstorder", "--no-cache"]


@pytest.fixture
def layout(tmp_path):
    """``in/cohort`` (two cases and their manifest) and ``in/outside`` (an image and a secret) beside it."""
    manifest = writeCohort(tmp_path / "in" / "cohort")
    outside = tmp_path / "in" / "outside"
    writeImage(outside / "T1c.nrrd", 7)
    (outside / "secret.txt").write_text("not for the pipeline\n")
    return manifest, outside


class Watch:
    """Every path given to SimpleITK's readers or to ``open`` inside :meth:`watching` (the command, not the
    test's own hashing of its inputs)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.on = False

    @contextlib.contextmanager
    def watching(self):
        self.on = True
        try:
            yield
        finally:
            self.on = False

    def spy(self, function):
        def wrapper(first, *args, **kwargs):
            if self.on:
                target = args[0] if isinstance(first, sitk.ImageFileReader) else first
                self.paths.append(os.fspath(target) if isinstance(target, (str, os.PathLike)) else repr(target))
            return function(first, *args, **kwargs)

        return wrapper


@pytest.fixture
def opened(monkeypatch):
    watch = Watch()
    monkeypatch.setattr(sitk.ImageFileReader, "SetFileName", watch.spy(sitk.ImageFileReader.SetFileName))
    monkeypatch.setattr(sitk, "ReadImage", watch.spy(sitk.ReadImage))
    monkeypatch.setattr(builtins, "open", watch.spy(builtins.open))
    monkeypatch.setattr(io, "open", watch.spy(io.open))
    return watch


def assertNotOpened(opened: Watch, *forbidden: pathlib.Path) -> None:
    """No path given to a reader resolves to (or under) one of ``forbidden``."""
    assert opened.paths, "nothing was watched"
    for path in opened.paths:
        if os.path.isabs(path):
            resolved = pathlib.Path(path).resolve()
            assert not any(resolved.is_relative_to(place.resolve()) for place in forbidden), f"opened {resolved}"


def wasOpened(opened: Watch, target: pathlib.Path) -> bool:
    return any(os.path.isabs(path) and pathlib.Path(path).resolve() == target.resolve() for path in opened.paths)


def escape(name: str, manifest: pathlib.Path, outside: pathlib.Path) -> tuple[str, pathlib.Path]:
    """A T1c cell for patient P2 that leads outside, and the target the message must show."""
    folder = manifest.parent
    image = (outside / "T1c.nrrd").resolve()
    if name == "relative":
        return "../outside/T1c.nrrd", image
    if name == "absolute":
        return str(outside / "T1c.nrrd"), image
    if name == "passwd":
        return "../" * 12 + "etc/passwd", pathlib.Path("/etc/passwd").resolve()
    if name == "backslashes":
        return "..\\outside\\T1c.nrrd", image
    if name == "home":
        return "~/T1c.nrrd", pathlib.Path("~/T1c.nrrd").expanduser().resolve()
    if name == "file-link":
        (folder / "P2" / "link.nrrd").symlink_to(outside / "T1c.nrrd")
        return "P2/link.nrrd", image
    if name == "folder-link":
        (folder / "shared").symlink_to(outside, target_is_directory=True)
        return "shared/T1c.nrrd", image
    raise ValueError(name)


def plant(manifest: pathlib.Path, cell: str, column: str = "T1c") -> None:
    """Patient P2's ``column`` cell replaced by ``cell``."""
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(f"P2/{column}.nrrd", cell), encoding="utf-8")


def command(name: str, manifest: pathlib.Path, out: pathlib.Path, *extra) -> list:
    return {
        "extract": ["extract", "--manifest", manifest, "--out", out, *FAST],
        "run-check": ["run", "--check", "--manifest", manifest],
        "run": ["run", "--manifest", manifest, "--out", out],
    }[name] + list(extra)


ESCAPES = ["relative", "absolute", "passwd", "backslashes", "home", "file-link", "folder-link"]
COMMANDS = ["extract", "run-check", "run"]


@pytest.mark.parametrize("reader", COMMANDS)
@pytest.mark.parametrize("kind", ESCAPES)
def test_a_path_leading_outside_is_refused_before_it_is_opened(layout, tmp_path, opened, kind, reader):
    manifest, outside = layout
    cell, target = escape(kind, manifest, outside)
    plant(manifest, cell)
    out = tmp_path / "out"
    with guarded([tmp_path / "in"], [tmp_path / "out"]), opened.watching():
        result = runCommand(*command(reader, manifest, out))
    where = "line 3, column T1c" if reader == "extract" else "manifest.csv line 3"
    assertRefused(result, where, f"'{cell}' resolves to {target}", "--data-root DIR", "--allow-outside-paths")
    assert not out.exists()
    assertNotOpened(opened, outside, target)


def test_a_mask_leading_outside_is_refused_in_its_column(layout, tmp_path, opened):
    manifest, outside = layout
    plant(manifest, str(outside / "T1c.nrrd"), "mask")
    with guarded([tmp_path / "in"]), opened.watching():
        result = runCommand("run", "--check", "--manifest", manifest)
    assertRefused(result, "column mask (P2)", f"resolves to {(outside / 'T1c.nrrd').resolve()}", "--data-root DIR")
    assertNotOpened(opened, outside)


@pytest.mark.parametrize("kind", ["relative", "file-link"])
def test_a_qa_manifest_leading_outside_is_refused(layout, tmp_path, kind):
    manifest, outside = layout
    cell, target = escape(kind, manifest, outside)
    qa = writeManifestText(manifest.parent / "qa.csv", ["patient,prediction,reference", f"P1,P1/mask.nrrd,{cell}"])
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        result = runCommand("qa", "--manifest", qa, "--out", tmp_path / "out")
    assertRefused(result, "line 2, column reference", f"resolves to {target}", "--allow-outside-paths")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("reader", ["extract", "run-check"])
def test_a_link_inside_the_folder_is_allowed(layout, tmp_path, reader):
    manifest, _ = layout
    (manifest.parent / "P2" / "inside.nrrd").symlink_to(manifest.parent / "P2" / "T1c.nrrd")
    plant(manifest, "P2/inside.nrrd")
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        result = runCommand(*command(reader, manifest, tmp_path / "out"))
    assert result.code == 0, result.output
    assert ("ready to run" in result.stdout) if reader == "run-check" else "2 extracted" in result.stdout


@pytest.mark.parametrize("reader", ["extract", "run-check"])
@pytest.mark.parametrize("option", ["data-root", "allow"])
def test_a_data_root_or_the_users_permission_lets_an_outside_path_in(layout, tmp_path, opened, reader, option):
    manifest, outside = layout
    plant(manifest, "../outside/T1c.nrrd")
    extra = ["--data-root", outside] if option == "data-root" else ["--allow-outside-paths"]
    with guarded([tmp_path / "in"], [tmp_path / "out"]), opened.watching():
        result = runCommand(*command(reader, manifest, tmp_path / "out", *extra))
    assert result.code == 0, result.output
    assert ("ready to run" in result.stdout) if reader == "run-check" else "2 extracted" in result.stdout
    said = "--allow-outside-paths: the manifest's paths are accepted wherever they lead"
    assert (said in result.stderr) == (option == "allow")
    assert wasOpened(opened, outside / "T1c.nrrd"), "the permitted file is read"


def test_a_manifest_reached_through_a_link_keeps_its_own_folder(layout, tmp_path):
    manifest, _ = layout
    elsewhere = tmp_path / "in" / "links"
    elsewhere.mkdir()
    (elsewhere / "manifest.csv").symlink_to(manifest)
    with guarded([tmp_path / "in"]):
        result = runCommand("run", "--check", "--manifest", elsewhere / "manifest.csv")
    assert result.code == 0 and "ready to run" in result.stdout, result.output


def test_a_data_root_that_is_not_a_folder_is_refused(layout, tmp_path):
    manifest, outside = layout
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        result = runCommand(*command("extract", manifest, tmp_path / "out", "--data-root", outside / "secret.txt"))
    assertRefused(result, "is not an existing folder", "--data-root DIR")


def test_a_link_loop_is_refused(layout, tmp_path):
    manifest, _ = layout
    (manifest.parent / "loop.nrrd").symlink_to(manifest.parent / "loop.nrrd")
    plant(manifest, "loop.nrrd")
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        result = runCommand(*command("extract", manifest, tmp_path / "out"))
    assertRefused(result, "'loop.nrrd' cannot be resolved", "fix the cell or the symbolic link")


def test_the_library_refuses_as_the_command_line_does(layout, tmp_path, opened):
    manifest, outside = layout
    plant(manifest, "../" * 12 + "etc/passwd")
    with guarded([tmp_path / "in"]), opened.watching():
        with pytest.raises(InputError, match=r"resolves to /etc/passwd.*allowOutsidePaths=True"):
            readManifest(manifest)
        assert readManifest(manifest, allowOutsidePaths=True).cases[1].sequences["T1c"] == pathlib.Path("/etc/passwd")
    assertNotOpened(opened, pathlib.Path("/etc/passwd"))
