"""The Slicer extension's CMake files name files that exist and every module folder."""

import pathlib
import re

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
MODULE_FOLDERS = ["HarmonizationModule", "SegmentationModule", "OutcomeModule"]


def _listed(text: str, variable: str) -> list[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, f"{variable} not set"
    return match.group(1).split()


def test_top_level_build_file_adds_every_part_and_depends_on_pytorch():
    text = (REPOSITORY / "CMakeLists.txt").read_text(encoding="utf-8")
    subdirectories = re.findall(r"add_subdirectory\((\w+)\)", text)
    assert subdirectories == ["VirtualBiopsy", "VirtualBiopsyWidgets", *MODULE_FOLDERS]
    assert "PyTorch" in re.search(r"set\(EXTENSION_DEPENDS ([^)]*)\)", text).group(1).split()
    for required in ("find_package(Slicer REQUIRED)", "Slicer_EXTENSION_GENERATE_CONFIG", "Slicer_EXTENSION_CPACK"):
        assert required in text


@pytest.mark.parametrize("folder", MODULE_FOLDERS)
def test_module_build_file_names_existing_files_and_its_self_test(folder):
    text = (REPOSITORY / folder / "CMakeLists.txt").read_text(encoding="utf-8")
    moduleName = re.search(r"set\(MODULE_NAME (\w+)\)", text).group(1)
    assert moduleName == "VirtualBiopsy" + folder.removesuffix("Module")
    for variable in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        for entry in _listed(text, variable):
            path = REPOSITORY / folder / entry.replace("${MODULE_NAME}", moduleName)
            assert path.is_file(), f"{folder}/CMakeLists.txt lists {entry}, which does not exist"
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text


def test_library_is_built_with_subdir_like_dicomlib():
    text = (REPOSITORY / "VirtualBiopsy" / "CMakeLists.txt").read_text(encoding="utf-8")
    assert "WITH_SUBDIR" in text and "set(MODULE_NAME VirtualBiopsy)" in text


def test_widget_helpers_build_file_lists_exactly_the_helper_files():
    """VirtualBiopsyWidgets names its files one by one (it is not globbed): a new helper must be added."""
    folder = REPOSITORY / "VirtualBiopsyWidgets"
    listed = set(_listed((folder / "CMakeLists.txt").read_text(encoding="utf-8"), "MODULE_PYTHON_SCRIPTS"))
    assert listed == {path.name for path in folder.glob("*.py")}
    assert "WITH_SUBDIR" in (folder / "CMakeLists.txt").read_text(encoding="utf-8")


def test_icon_and_screenshot_urls_name_files_of_the_repository():
    """The Extensions Manager shows these pictures: each raw.githubusercontent URL of the main branch must
    name a file that exists here."""
    text = (REPOSITORY / "CMakeLists.txt").read_text(encoding="utf-8")
    urls = []
    for variable in ("EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS"):
        match = re.search(rf'set\({variable} "([^"]*)"\)', text)
        assert match, f"{variable} not set"
        urls += match.group(1).split()
    prefix = "https://raw.githubusercontent.com/VirtualBiopsy/SlicerVirtualBiopsy/main/"
    for url in urls:
        assert url.startswith(prefix), url
        assert (REPOSITORY / url.removeprefix(prefix)).is_file(), f"{url} names no file of the repository"
