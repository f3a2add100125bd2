"""Cohort extraction: one task per manifest case, per-case failures that do not stop the batch,
the result cache (hits skip extraction; a changed setting misses), the output tables, the
``label`` column, identical values on every executor, and cases taken from a scene."""

import json

import pandas as pd
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.manifest import readManifest, writeManifest
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.executors import DaskExecutor, SerialExecutor
from VirtualBiopsy.extract.cohortExtraction import extractCohort, extractSceneCohort
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.files import sha256File
from VirtualBiopsy.progress import CancelToken

#: Small and fast: first order and GLCM of the original image (shape once).
FAST = RadiomicsSettings.fromDict(
    {"featureClass": {"shape": None, "firstorder": None, "glcm": None}, "setting": {"binWidth": 25}}, name="fast"
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A virtual cohort of 4 cases (3 sequences each) and a hostile manifest over it:
    VB0002's T1c unreadable, VB0003's mask empty, VB0004's mask on another grid."""
    folder = tmp_path_factory.mktemp("cohort") / "cohort"
    manifest = generateCohort(folder, cases=4, seed=1, size=64)
    cases = readManifest(manifest).cases
    bad = folder / "bad"
    bad.mkdir()
    (bad / "garbage.nrrd").write_bytes(b"NRRD0004\nthis is not an image\n")
    mask = sitk.ReadImage(str(cases[2].mask))
    sitk.WriteImage(mask * 0, str(bad / "empty.nrrd"))
    shifted = sitk.ReadImage(str(cases[3].mask))
    shifted.SetOrigin([value + 7.5 for value in shifted.GetOrigin()])
    sitk.WriteImage(shifted, str(bad / "shifted.nrrd"))
    rows = [{"patient": case.patient, **case.sequences, "mask": case.mask} for case in cases]
    rows[1]["T1c"] = bad / "garbage.nrrd"
    rows[2]["mask"] = bad / "empty.nrrd"
    rows[3]["mask"] = bad / "shifted.nrrd"
    hostile = writeManifest(rows, folder / "hostile.csv")
    return {"manifest": manifest, "hostile": hostile, "cases": cases, "folder": folder}


def singleSequenceManifest(cohort, path, labels=None):
    """A manifest with only the T1c column (and a ``label`` column when ``labels`` is given), written in the
    cohort's folder (its paths must stay inside it) under a name made from ``path``; returns its path."""
    path = cohort["folder"] / f"{path.parent.name}-{path.name}"
    lines = ["patient,T1c,mask" + (",label" if labels else "")]
    for index, case in enumerate(cohort["cases"]):
        cells = [case.patient, str(case.sequences["T1c"]), str(case.mask)]
        lines.append(",".join(cells + ([labels[index]] if labels else [])))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_cases_fail_alone_with_their_own_error(cohort, tmp_path):
    result = extractCohort(cohort["hostile"], tmp_path / "out", FAST)
    errors = dict(zip(result.failures()["patient"], result.failures()["error"]))
    assert [case.patient for case in result.succeeded] == ["VB0001"]
    assert sorted(errors) == ["VB0002", "VB0003", "VB0004"]
    assert "Cannot read the image 'T1c' file" in errors["VB0002"] and "garbage.nrrd" in errors["VB0002"]
    assert "mask is empty" in errors["VB0003"]
    assert errors["VB0004"].startswith("GeometryError") and "does not lie on the grid" in errors["VB0004"]
    written = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert list(written.columns) == ["patient", "error"] and sorted(written["patient"]) == sorted(errors)
    wide = pd.read_csv(tmp_path / "out" / "features.csv")
    assert list(wide["patient"]) == ["VB0001"] and list(wide.columns[:2]) == ["patient", "label"]


def test_manifest_problems_are_failures_that_never_run(cohort, tmp_path):
    lines = cohort["manifest"].read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("VB0002/mask.nrrd", "VB0002/nowhere.nrrd")
    manifest = cohort["folder"] / "missing.csv"
    manifest.write_text("\n".join(lines[:3]) + "\n")
    result = extractCohort(manifest, None, FAST)
    failed = result.failed[0]
    assert failed.patient == "VB0002" and not failed.ran and "mask not found" in failed.error
    assert failed.error.startswith("InputError: manifest line 3") and failed.label is None
    assert result.succeeded[0].ran and result.computed == 1


def test_progress_reaches_the_end_and_cancel_stops_before_writing(cohort, tmp_path):
    reports = []
    manifest = singleSequenceManifest(cohort, tmp_path / "t1c.csv")
    extractCohort(manifest, None, FAST, progress=lambda fraction, message: reports.append(fraction))
    assert reports[-1] == 1.0 and reports == sorted(reports)
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        extractCohort(manifest, tmp_path / "out", FAST, cancel=token)
    assert not (tmp_path / "out").exists()


def test_wide_long_diagnostics_and_provenance(cohort, tmp_path):
    result = extractCohort(cohort["manifest"], tmp_path / "out", FAST)
    out = tmp_path / "out"
    wide = pd.read_csv(out / "features.csv")
    assert wide.shape[0] == 4 and list(wide.columns[:2]) == ["patient", "label"]
    # More than one sequence column: every feature prefixed, shape once (first sequence).
    assert "T1c_original_glcm_Contrast" in wide.columns and "FLAIR_original_glcm_Contrast" in wide.columns
    assert "T1c_original_shape_VoxelVolume" in wide.columns
    assert not any(name.startswith(("T2_original_shape", "FLAIR_original_shape")) for name in wide.columns)
    long = pd.read_csv(out / "features_long.csv")
    assert list(long.columns) == ["patient", "label", "sequence", "feature", "value"]
    assert set(long["sequence"]) == {"T1c", "T2", "FLAIR"}
    row = long[(long.patient == "VB0003") & (long.sequence == "FLAIR") & (long.feature == "original_glcm_Contrast")]
    assert row["value"].item() == wide.set_index("patient").loc["VB0003", "FLAIR_original_glcm_Contrast"]
    assert len(long) == 4 * (wide.shape[1] - 2)
    diagnostics = json.loads((out / "diagnostics.json").read_text(encoding="utf-8"))
    assert sorted(diagnostics) == ["VB0001", "VB0002", "VB0003", "VB0004"]
    assert any(key.startswith("T1c_diagnostics_") for key in diagnostics["VB0001"])
    assert not any("diagnostics" in column for column in wide.columns)
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["settingsSha256"] == FAST.sha256() and provenance["versions"]["pyradiomics"]
    assert provenance["executor"] == {"kind": "SerialExecutor", "workers": 1, "scheduler": None}
    case = cohort["cases"][0]
    record = provenance["cases"]["VB0001"]
    assert record["inputs"]["image:FLAIR"] == sha256File(case.sequences["FLAIR"])
    assert record["inputs"]["mask"] == sha256File(case.mask)
    assert record["cropBox"]["T1c"]["size"] and provenance["manifest"]["sha256"] == sha256File(cohort["manifest"])
    assert provenance["counts"] == {"cases": 4, "succeeded": 4, "failed": 0}
    # the values are extractFeatures' on the files
    direct = extractFeatures(
        {name: sitk.ReadImage(str(path)) for name, path in case.sequences.items()}, sitk.ReadImage(str(case.mask)), FAST
    )
    assert result.succeeded[0].value["features"] == direct.features


def test_refuses_a_non_empty_folder_before_any_work(cohort, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.csv").write_text("keep me")
    with pytest.raises(InputError, match="is not empty"):
        extractCohort(cohort["manifest"], tmp_path / "out", FAST, cacheFolder=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() and (tmp_path / "out" / "old.csv").read_text(encoding="utf-8") == "keep me"


def test_cache_skips_done_cases_and_a_changed_setting_misses(cohort, tmp_path):
    manifest = singleSequenceManifest(cohort, tmp_path / "t1c.csv")
    cache = tmp_path / "cache"
    first = extractCohort(manifest, tmp_path / "one", FAST, cacheFolder=cache)
    assert (first.cacheHits, first.computed) == (0, 4) and len(list(cache.glob("*.json"))) == 4
    second = extractCohort(manifest, tmp_path / "two", FAST, cacheFolder=cache)
    assert (second.cacheHits, second.computed) == (4, 0)
    assert json.loads((tmp_path / "two" / "provenance.json").read_text(encoding="utf-8"))["cache"]["hits"] == 4
    assert (tmp_path / "one" / "features.csv").read_bytes() == (tmp_path / "two" / "features.csv").read_bytes()
    changed = extractCohort(manifest, None, FAST.replaced(binWidth=10), cacheFolder=cache)
    assert (changed.cacheHits, changed.computed) == (0, 4)
    assert changed.wide()["original_glcm_Contrast"].tolist() != first.wide()["original_glcm_Contrast"].tolist()
    otherLabel = extractCohort(manifest, None, FAST, cacheFolder=cache, minimumRoiVoxels=11)
    assert otherLabel.cacheHits == 0


def test_single_sequence_keeps_pyradiomics_names_and_label_column(cohort, tmp_path):
    manifest = singleSequenceManifest(cohort, tmp_path / "labels.csv", labels=["1", "", "7", "x"])
    result = extractCohort(manifest, None, FAST)
    errors = dict(zip(result.failures()["patient"], result.failures()["error"]))
    assert "Label 7 is not in the mask; labels present: 1" in errors["VB0003"]
    assert "label 'x' is not a positive whole number" in errors["VB0004"] and not result.cases[3].ran
    wide = result.wide()
    assert list(wide["patient"]) == ["VB0001", "VB0002"] and list(wide["label"]) == [1, 1]
    assert "original_glcm_Contrast" in wide.columns and not any(c.startswith("T1c_") for c in wide.columns)
    case = cohort["cases"][1]
    direct = extractFeatures(sitk.ReadImage(str(case.sequences["T1c"])), sitk.ReadImage(str(case.mask)), FAST)
    assert result.cases[1].value["features"] == direct.features
    assert set(result.long()["sequence"]) == {""}


def test_bad_arguments_are_refused(cohort):
    with pytest.raises(InputError, match="RadiomicsSettings"):
        extractCohort(cohort["manifest"], None, {"binWidth": 25})
    with pytest.raises(InputError, match="label is 0"):
        extractCohort(cohort["manifest"], None, FAST, label=0)
    with pytest.raises(InputError, match="manifest not found"):
        extractCohort(cohort["folder"] / "none.csv", None, FAST)


@pytest.mark.slow
def test_values_identical_serial_and_dask_with_one_or_two_workers(cohort, tmp_path):
    serial = extractCohort(cohort["hostile"], None, FAST, executor=SerialExecutor()).wide()
    for workers in (1, 2):
        with DaskExecutor(workers=workers) as executor:
            result = extractCohort(
                cohort["hostile"],
                tmp_path / f"dask{workers}",
                FAST,
                executor=executor,
                cacheFolder=tmp_path / f"cache{workers}",
            )
        pd.testing.assert_frame_equal(result.wide(), serial, check_exact=True)
        assert len(result.failed) == 3 and result.provenance["executor"]["workers"] == workers
        assert len(list((tmp_path / f"cache{workers}").glob("*.json"))) == 1  # stored by the worker


def test_scene_cases_equal_manifest_cases(cohort, scene):
    from VirtualBiopsy.mrml import loadSegmentation, loadVolume

    cases = []
    for case in cohort["cases"][:2]:
        volumes = {name: loadVolume(case.sequences[name], scene) for name in ("T1c", "FLAIR")}
        segmentation = loadSegmentation(case.mask, scene, referenceVolume=volumes["T1c"])
        cases.append((case.patient, volumes, segmentation))
    result = extractSceneCohort(cases, FAST, executor=SerialExecutor())
    assert [case.ok for case in result.cases] == [True, True]
    first = cohort["cases"][0]
    direct = extractFeatures(
        {name: sitk.ReadImage(str(first.sequences[name])) for name in ("T1c", "FLAIR")},
        sitk.ReadImage(str(first.mask)),
        FAST,
    )
    assert result.cases[0].value["features"] == pytest.approx(direct.features, rel=1e-12)
    assert "FLAIR_original_glcm_Contrast" in result.wide().columns
    with pytest.raises(InputError, match="is not empty"):
        (cohort["folder"] / "scene-out").mkdir()
        (cohort["folder"] / "scene-out" / "x").write_text("x")
        extractSceneCohort(cases, FAST, outDir=cohort["folder"] / "scene-out")
    bad = extractSceneCohort([("P9", {"T1c": cases[0][1]["T1c"]}, cases[0][1]["T1c"])], FAST)
    assert "Expected a segmentation node" in bad.cases[0].error


def test_an_interrupted_run_resumes_from_the_cache(cohort, tmp_path):
    manifest = singleSequenceManifest(cohort, tmp_path / "t1c.csv")
    token = CancelToken()

    def cancelAfterFirstCase(fraction, message):
        if message.endswith(" done"):
            token.cancel()

    with pytest.raises(CancelledError):
        extractCohort(
            manifest,
            tmp_path / "out",
            FAST,
            cacheFolder=tmp_path / "cache",
            progress=cancelAfterFirstCase,
            cancel=token,
        )
    assert not (tmp_path / "out").exists() and len(list((tmp_path / "cache").glob("*.json"))) == 1
    resumed = extractCohort(manifest, tmp_path / "out", FAST, cacheFolder=tmp_path / "cache")
    assert (resumed.cacheHits, resumed.computed) == (1, 3) and resumed.cases[0].cached


class RecordingExecutor(SerialExecutor):
    """A serial executor that records the order it is given the cases in."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    def map(self, function, items, progress=None, cancel=None, keys=None):
        self.order = list(keys or [])
        return super().map(function, items, progress, cancel, keys=keys)


def test_largest_cases_start_first_and_tables_keep_the_manifest_order(tmp_path):
    rows = []
    for index, size in enumerate([24, 40, 32]):
        image = sitk.GetImageFromArray((sitk.GetArrayFromImage(sitk.Image([size] * 3, sitk.sitkInt16)) + index * 7))
        image = sitk.AdditiveGaussianNoise(sitk.Cast(image, sitk.sitkFloat32), 20.0, 0.0, index + 1)
        labels = sitk.Image([size] * 3, sitk.sitkUInt8)
        labels[8:16, 8:16, 8:16] = 1
        sitk.WriteImage(image, str(tmp_path / f"image{index}.nrrd"))
        sitk.WriteImage(labels, str(tmp_path / f"mask{index}.nrrd"))
        rows.append(
            {"patient": f"P{index}", "image": tmp_path / f"image{index}.nrrd", "mask": tmp_path / f"mask{index}.nrrd"}
        )
    manifest = writeManifest(rows, tmp_path / "manifest.csv")
    executor = RecordingExecutor()
    result = extractCohort(manifest, tmp_path / "out", FAST, executor=executor)
    assert executor.order == ["P1", "P2", "P0"]  # 40³, 32³, 24³ voxels
    assert list(result.wide()["patient"]) == ["P0", "P1", "P2"] and not result.failed
