"""The Outcome module's Cohort run settings (:class:`CohortRunRequest`): the ``virtual-biopsy run`` arguments
each setting gives, and refusals that name the setting and the fix (``docs/cohort-run.md``)."""

import pathlib
import sys

import pytest

from VirtualBiopsy.cohort.runRequest import CLI_MODULE, PRESETS, CohortRunRequest
from VirtualBiopsy.errors import InputError


@pytest.fixture
def inputs(tmp_path):
    """A manifest, a clinical table and a pipeline settings file (content is the run's business, not ours)."""
    paths = {}
    for name, fileName in (("manifest", "cohort.csv"), ("clinical", "clinical.csv"), ("configFile", "pipeline.yaml")):
        paths[name] = tmp_path / fileName
        paths[name].write_text("patient\nVB0001\n", encoding="utf-8")
    return paths


def request(inputs, tmp_path, **changes) -> CohortRunRequest:
    values = {"manifest": str(inputs["manifest"]), "outDir": str(tmp_path / "run")} | changes
    return CohortRunRequest.fromDict(values)


def test_minimal_run_uses_the_default_preset_and_runs_serially(inputs, tmp_path):
    arguments = request(inputs, tmp_path).arguments()
    assert arguments == [
        "run",
        "--manifest",
        str(inputs["manifest"]),
        "--preset",
        "demo",
        "--out",
        str(tmp_path / "run"),
    ]


def test_every_setting_gives_its_flag(inputs, tmp_path):
    arguments = request(inputs, tmp_path, clinical=str(inputs["clinical"]), preset="ct", workers=4).arguments()
    assert arguments[arguments.index("--clinical") + 1] == str(inputs["clinical"])
    assert arguments[arguments.index("--preset") + 1] == "ct"
    assert arguments[arguments.index("--workers") + 1] == "4"
    assert "--resume" not in arguments and "--check" not in arguments


def test_a_settings_file_replaces_the_preset(inputs, tmp_path):
    arguments = request(inputs, tmp_path, configFile=str(inputs["configFile"]), preset="brain-mr").arguments()
    assert arguments[arguments.index("--config") + 1] == str(inputs["configFile"])
    assert "--preset" not in arguments


def test_resume_and_check(inputs, tmp_path):
    runFolder = tmp_path / "run"
    runFolder.mkdir()
    (runFolder / "run.json").write_text("{}", encoding="utf-8")
    resumed = request(inputs, tmp_path, resume=True)
    assert resumed.arguments()[-1] == "--resume"
    assert resumed.arguments(check=True)[-2:] == ["--resume", "--check"]


def test_command_runs_the_cli_module_with_the_given_python(inputs, tmp_path):
    runRequest = request(inputs, tmp_path)
    assert runRequest.command("/opt/Slicer/bin/PythonSlicer")[:4] == [
        "/opt/Slicer/bin/PythonSlicer",
        "-m",
        CLI_MODULE,
        "run",
    ]
    assert runRequest.command()[0] == sys.executable


def test_an_earlier_run_folder_is_accepted_without_resume(inputs, tmp_path):
    """The same command again skips finished work: a folder that holds a run is fine."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}", encoding="utf-8")
    (tmp_path / "run" / "events.jsonl").write_text("", encoding="utf-8")
    assert request(inputs, tmp_path).arguments()[-1] == str(tmp_path / "run")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"manifest": ""}, r"manifest is empty; choose the cohort manifest"),
        ({"manifest": "missing.csv"}, r"manifest 'missing.csv' is not an existing file; choose the cohort manifest"),
        ({"clinical": "missing.csv"}, r"clinical 'missing.csv' is not an existing file; .*clear the field"),
        ({"configFile": "missing.yaml"}, r"configFile 'missing.yaml' is not an existing file; .*use a preset"),
        ({"preset": "mri"}, r"preset is 'mri'; choose one of: demo, brain-mr, ct"),
        ({"workers": 0}, r"workers is 0; it must lie in \[1, inf\]"),
        ({"outDir": " "}, r"outDir is empty; choose the run folder"),
        ({"resume": True}, r"outDir '.*run' holds no run \(no run.json\) to resume; uncheck Resume"),
        ({"workers": "2"}, r"workers must be of type int"),
        ({"outdir": "x"}, r"Did you mean 'outDir'"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(inputs, tmp_path, changes, message):
    with pytest.raises(InputError, match=message) as raised:
        request(inputs, tmp_path, **changes)
    assert "CohortRunRequest" in str(raised.value)


def test_a_settings_file_must_be_yaml(inputs, tmp_path):
    notYaml = tmp_path / "pipeline.json"
    notYaml.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"configFile is '.*pipeline.json', not a YAML file; choose .*--print-config"):
        request(inputs, tmp_path, configFile=str(notYaml))


def test_the_run_folder_must_be_a_folder_new_empty_or_a_run(inputs, tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"outDir '.*file' is a file; choose a folder"):
        request(inputs, tmp_path, outDir=str(tmp_path / "file"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"outDir '.*other' is not empty and holds no run; choose a new or empty"):
        request(inputs, tmp_path, outDir=str(tmp_path / "other"))
    (tmp_path / "empty").mkdir()
    assert request(inputs, tmp_path, outDir=str(tmp_path / "empty")).outDir == str(tmp_path / "empty")


def test_presets_are_the_shipped_pipeline_presets():
    folder = pathlib.Path(__file__).resolve().parents[2] / "VirtualBiopsy" / "resources" / "presets" / "pipelines"
    if not folder.is_dir():
        pytest.skip("the pipeline presets are not shipped in this checkout yet (docs/cohort-run.md lists them)")
    assert set(PRESETS) == {path.stem for path in folder.glob("*.yaml")}
