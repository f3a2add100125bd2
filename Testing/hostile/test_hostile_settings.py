"""Hostile YAML settings: pipeline settings for ``run --check`` and radiomics parameter files for
``extract --params``: Python tags, alias bombs (wide and recursive), a huge file, bytes that are not UTF-8, several
documents, a list instead of a mapping, unknown sections and keys, wrong types and preset names that are paths.
Each is refused with exit 2, the file, the key's path and the fix; no payload runs, nothing is written. An empty
file means the defaults."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import assertRefused, guarded, runCommand

MARKER = "payload-ran"


def _bomb(levels: int = 9) -> str:
    """A "billion laughs": nine levels of nine aliases each (9^9 strings) in a few hundred bytes."""
    lines = ['  - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "\n".join(lines)


_ALIAS_BOMB = "analyses:\n  survivalTimeColumn:\n" + _bomb()
_DEEP_NESTING = "harmonize:\n  normalization: " + "[" * 100 + "]" * 100 + "\n"
_NOT_UTF8 = b"harmonize:\n  normalization: z\xffscore\n"

#: (id, file content, words of the refusal) for run --check --config.
PIPELINE_CASES = [
    (
        "pythonTag",
        "harmonize:\n  normalization: !!python/object/apply:os.system ['touch {marker}']\n",
        ["field 'harmonize.normalization' has the YAML tag '!!python/object/apply:os.system'", "nothing of it ran"],
    ),
    ("pythonName", "preset: !!python/name:os.system ''\n", ["field 'preset'", "'!!python/name:os.system'"]),
    ("aliasBomb", _ALIAS_BOMB, ["more than 100000 values once its aliases", "Write the settings out plainly"]),
    ("recursiveAlias", "harmonize: &loop\n  normalization: *loop\n", ["nests deeper than 64 levels"]),
    ("deepNesting", _DEEP_NESTING, ["nests deeper than 64 levels"]),
    ("notUtf8", _NOT_UTF8, ["is not UTF-8 text (byte 0xff at offset 29)", "save it as UTF-8"]),
    ("twoDocuments", "harmonize: {}\n---\nextract: {}\n", ["is not valid YAML", "fix the file"]),
    ("list", "- harmonize\n- extract\n", ["must hold a mapping of names to settings, not a list"]),
    ("unknownSection", "harmonise:\n  enabled: true\n", ["harmonise: unknown section", "harmonize, segment"]),
    ("unknownKey", "harmonize:\n  enabeld: true\n", ["harmonize.enabeld: unknown setting", "Did you mean 'enabled'"]),
    ("wrongType", "extract:\n  enabled: 'yes'\n", ["extract.enabled: must be true or false, got 'yes'"]),
    ("presetPath", "preset: {outside}\n", ["No pipeline preset named '{outside}'", "shipped presets: brain-mr, ct"]),
    ("huge", None, ["is larger than 1048576 bytes", "a settings file is a few kilobytes"]),
]


def writeSettings(folder: pathlib.Path, content: str | bytes | None) -> pathlib.Path:
    path = folder / "settings.yaml"
    if content is None:
        with open(path, "wb") as handle:  # sparse: 1 MiB and a byte without the disk
            handle.truncate((1 << 20) + 1)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def outsidePreset(folder: pathlib.Path) -> str:
    """A preset name that climbs out of the presets folder to a settings file that must never be read."""
    evil = folder / "evil.yaml"
    evil.write_text("harmonize:\n  enabled: 7\n", encoding="utf-8")  # read, it would fail with its own message
    return "../" * 12 + str(evil.with_suffix(""))[1:]


@pytest.mark.parametrize("case", PIPELINE_CASES, ids=[case[0] for case in PIPELINE_CASES])
def test_hostile_pipeline_settings_are_refused_by_run_check(tmp_path, case):
    name, content, words = case
    marker, outside = tmp_path / MARKER, outsidePreset(tmp_path)
    if isinstance(content, str):
        content = content.replace("{marker}", str(marker)).replace("{outside}", outside)
    settings = writeSettings(tmp_path, content)
    out = tmp_path / "run"
    with guarded([settings, tmp_path / "evil.yaml"], [tmp_path], [marker]):
        result = runCommand("run", "--check", "--config", settings, "--manifest", tmp_path / "manifest.csv")
    assertRefused(result, f"Pipeline settings file {settings}", *(word.replace("{outside}", outside) for word in words))
    assert "must be true or false, got 7" not in result.output  # the file outside the presets was never read
    assert not out.exists()


def test_an_empty_settings_file_means_the_defaults(tmp_path):
    from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig

    settings = writeSettings(tmp_path, "")
    with guarded([settings]):
        assert PipelineConfig.fromYaml(settings).toDict() == PipelineConfig().toDict()
        result = runCommand("run", "--check", "--config", settings, "--manifest", tmp_path / "manifest.csv")
    assertRefused(result, "manifest not found", "1 error(s)")  # the settings passed; only the manifest is missing
    assert "Pipeline settings file" not in result.output


def test_a_preset_path_given_on_the_command_line_is_refused(tmp_path):
    outside = outsidePreset(tmp_path)
    with guarded([tmp_path / "evil.yaml"]):
        result = runCommand("run", "--check", "--preset", outside, "--manifest", tmp_path / "manifest.csv")
    assertRefused(result, f"No pipeline preset named '{outside}'", "shipped presets: brain-mr, ct, demo")
    assert "must be true or false, got 7" not in result.output


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("case")
    voxels = np.random.default_rng(0).normal(100, 10, (8, 12, 12)).astype(np.float32)
    mask = np.zeros((8, 12, 12), np.uint8)
    mask[2:6, 3:9, 3:9] = 1
    paths = {"image": folder / "image.nrrd", "mask": folder / "mask.nrrd"}
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(paths["image"]))
    sitk.WriteImage(sitk.GetImageFromArray(mask), str(paths["mask"]))
    return paths


PARAMS_CASES = [
    (
        "pythonTag",
        "setting: !!python/object/apply:os.system ['touch {marker}']\n",
        ["field 'setting' has the YAML tag"],
    ),
    ("aliasBomb", "setting:\n  label:\n" + _bomb(), ["more than 100000 values once its aliases"]),
    ("notUtf8", b"setting:\n  binWidth: \xff\n", ["is not UTF-8 text (byte 0xff at offset 21)"]),
    ("list", "- binWidth\n", ["must hold a mapping of names to settings, not a list"]),
    ("unknownKey", "setting:\n  binWdth: 5\n", ["unknown key 'binWdth' under '/setting'", "did you mean 'binWidth'"]),
    ("wrongType", "setting:\n  binWidth: five\n", ["invalid at '/setting/binWidth'", "'five' is not of type 'float'"]),
    ("huge", None, ["is larger than 1048576 bytes"]),
]


@pytest.mark.parametrize("params", PARAMS_CASES, ids=[params[0] for params in PARAMS_CASES])
def test_hostile_parameter_files_are_refused_by_extract(tmp_path, case, params):
    name, content, words = params
    marker = tmp_path / MARKER
    parameters = writeSettings(
        tmp_path, content.replace("{marker}", str(marker)) if isinstance(content, str) else content
    )
    out = tmp_path / "out"
    out.mkdir()
    arguments = ["--params", parameters, "--image", case["image"], "--mask", case["mask"], "--out", out / "f.csv"]
    with guarded([parameters, *case.values()], [out], [marker]):
        result = runCommand("extract", *arguments)
    assertRefused(result, *words)
    assert not any(out.iterdir())


def test_a_radiomics_preset_name_that_is_a_path_is_refused_by_extract(tmp_path, case):
    outside = outsidePreset(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    arguments = ["--preset", outside, "--image", case["image"], "--mask", case["mask"], "--out", out / "f.csv"]
    with guarded([tmp_path / "evil.yaml", *case.values()], [out]):
        result = runCommand("extract", *arguments)
    assertRefused(result, f"No radiomics preset named '{outside}'", "choose one of: full")
    assert not any(out.iterdir())
