"""Every file under ``VirtualBiopsy/resources/models/`` (weights included, not only JSON) ships: in the wheel
(pyproject package-data, built by pip) and in the Slicer extension (the library's CMake resource globs,
evaluated by CMake)."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
MODEL_FILES = [
    "resources/models/models.json",
    "resources/models/manifest.schema.json",
    "resources/models/demo/dataset.json",
    "resources/models/demo/fold_0/checkpoint_final.pth",
    "resources/models/net/net.pt",
]

#: Stands in for Slicer's macro: prints the resources the library's CMakeLists.txt hands to it.
PROBE = """cmake_minimum_required(VERSION 3.16)
project(probe NONE)
function(slicerMacroBuildScriptedModule)
  cmake_parse_arguments(ARG "WITH_SUBDIR" "NAME" "SCRIPTS;RESOURCES" ${ARGN})
  foreach(item ${ARG_RESOURCES})
    message(STATUS "RESOURCE ${item}")
  endforeach()
endfunction()
add_subdirectory(VirtualBiopsy)
"""


def fakeLibrary(root: pathlib.Path) -> pathlib.Path:
    library = root / "VirtualBiopsy"
    for name in [*MODEL_FILES, "resources/presets/pipelines/demo.yaml", "__init__.py"]:
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        (library / name).write_bytes(b"\x00weights" if name.endswith((".pth", ".pt")) else b"{}")
    return library


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
def test_cmake_ships_every_model_file_once(tmp_path):
    library = fakeLibrary(tmp_path / "source")
    shutil.copy(REPOSITORY / "VirtualBiopsy" / "CMakeLists.txt", library)
    (tmp_path / "source" / "CMakeLists.txt").write_text(PROBE)
    result = subprocess.run(
        ["cmake", "-S", tmp_path / "source", "-B", tmp_path / "build"], capture_output=True, text=True, check=True
    )
    resources = [line.split("RESOURCE ", 1)[1] for line in result.stdout.splitlines() if "RESOURCE " in line]
    assert sorted(resources) == sorted([*MODEL_FILES, "resources/presets/pipelines/demo.yaml"])


@pytest.mark.slow
def test_wheel_ships_every_model_file(tmp_path):
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPOSITORY / name, tmp_path)
    fakeLibrary(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            tmp_path / "dist",
            tmp_path,
        ],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(f"VirtualBiopsy/{name}" in names for name in MODEL_FILES)
