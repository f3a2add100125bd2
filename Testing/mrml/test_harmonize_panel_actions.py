"""The Harmonization panel's actions as the module logic makes them (nodes and the section's config in), on
real nodes: each equals the underlying SimpleITK/library function called with the same explicit values, and
ComBat through the panel's settings equals R's sva (the reference cohort)."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField
from VirtualBiopsy.harmonize.combat import ComBatModel
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.combatLogic import ComBatLogic
from VirtualBiopsy.harmonize.denoising import denoiseImage
from VirtualBiopsy.harmonize.preprocessingConfig import (
    PreprocessingConfig,
    RegistrationConfig,
)
from VirtualBiopsy.harmonize.preprocessingLogic import (
    REGISTRATION_ATTRIBUTE,
    PreprocessingLogic,
    RegistrationLogic,
)
from VirtualBiopsy.harmonize.registration import RegistrationSettings, registerImages
from VirtualBiopsy.harmonize.registrationQuality import qcLine
from VirtualBiopsy.harmonize.resampling import resampleImage
from VirtualBiopsy.mrml import (
    imageToVolumeNode,
    loadTable,
    tableNodeToDataFrame,
    volumeNodeToImage,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))
from harmonizePhantoms import knownRigidTransform, smoothBias, twoContrastHead  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "combat"


def _array(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def test_preprocessing_settings_reach_the_algorithms(scene):
    t1Like, _t2Like, _lesion = twoContrastHead(size=32, spacing=3.0, oblique=True)
    image = sitk.Multiply(t1Like, smoothBias(t1Like))
    node = imageToVolumeNode(image, scene, "T1")
    config = PreprocessingConfig.fromDict(
        {
            "n4ShrinkFactor": 2,
            "n4Levels": 2,
            "n4Iterations": 10,
            "denoisingMethod": "curvatureFlow",
            "resamplingPreset": "inPlane",
            "resamplingSpacingMm": 2.0,
            "resamplingInterpolator": "linear",
        }
    )
    logic = PreprocessingLogic(scene)

    corrected = logic.correctBiasField(node, config)
    direct, _bias = correctBiasField(image, None, 2, [10, 10], 1e-6)
    np.testing.assert_allclose(_array(volumeNodeToImage(corrected)), _array(direct), rtol=1e-5, atol=1e-3)
    assert json.loads(corrected.GetAttribute("VirtualBiopsy.preprocessing"))["iterations"] == [10, 10]

    denoised = logic.denoise(node, config)
    np.testing.assert_allclose(
        _array(volumeNodeToImage(denoised)), _array(denoiseImage(image, "curvatureFlow")), rtol=1e-5, atol=1e-3
    )

    resampled = volumeNodeToImage(logic.resample(node, config))
    expected = resampleImage(image, "inPlane", 2.0, "linear")
    assert resampled.GetSize() == expected.GetSize()
    np.testing.assert_allclose(resampled.GetSpacing(), expected.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(_array(resampled), _array(expected), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(_array(volumeNodeToImage(node)), _array(image))


def test_registration_settings_reach_the_registration(scene):
    fixedImage, t2Like, lesion = twoContrastHead(size=32, spacing=3.0)
    movingImage = sitk.Resample(t2Like, t2Like, knownRigidTransform().GetInverse(), sitk.sitkLinear, 0.0)
    fixed, moving = imageToVolumeNode(fixedImage, scene, "T1"), imageToVolumeNode(movingImage, scene, "T2")
    mask = imageToVolumeNode(lesion, scene, "lesion", labelmap=True)
    config = RegistrationConfig.fromDict(
        {
            "registrationStages": "rigid",
            "registrationSeed": 3,
            "maskDilationMm": 6.0,
            "registrationRetry": False,
            "qcMinimumNmi": 1.02,
        }
    )
    logic = RegistrationLogic(scene)
    transformNode, resampled = logic.run(fixed, moving, config, mask=mask)

    direct = registerImages(
        fixedImage,
        movingImage,
        lesion,
        ("rigid",),
        maskDilationMm=6.0,
        retry=False,
        qcMinimumNmi=1.02,
        settings=RegistrationSettings(seed=3),
    )
    np.testing.assert_allclose(logic.result.transform.GetParameters(), direct.transform.GetParameters(), atol=1e-4)
    assert volumeNodeToImage(resampled).GetSize() == fixedImage.GetSize()
    record = json.loads(transformNode.GetAttribute(REGISTRATION_ATTRIBUTE))
    assert record["stages"] == ["rigid"] and record["settings"]["seed"] == 3
    assert record["config"] == config.toDict() and record["mask"] == "lesion"
    assert not logic.result.retried
    line = qcLine(logic.result.metrics, logic.result.qcPassed, logic.result.metricMask, logic.result.retried)
    assert line.startswith("QC: passed;") and f"{direct.metrics['nmiAfter']:.4f}" in line


def test_combat_settings_reproduce_sva_and_save_the_model(scene, tmp_path):
    """The panel's call (fit, apply, save) with ComBatConfig equals R's sva with a reference batch."""
    features, clinical = loadTable(DATA / "features.csv", scene), loadTable(DATA / "clinical.csv", scene)
    config = ComBatConfig.fromDict(
        {
            "batchColumn": "site",
            "combatCovariates": "age, grade",
            "referenceBatch": "B",
            "combatModelFile": str(tmp_path / "combat.json"),
        }
    )
    model, output = ComBatLogic(scene).harmonize(features, clinical, config)

    result = tableNodeToDataFrame(output)
    expected = pd.read_csv(DATA / "sva_reference.csv", dtype={"patient": str})
    assert list(result.patient) == list(expected.patient)
    np.testing.assert_allclose(result.iloc[:, 1:].to_numpy(), expected.iloc[:, 1:].to_numpy(), rtol=1e-9)
    loaded = ComBatModel.load(config.modelPath)
    assert loaded.referenceBatch == "B" and loaded.covariateNames == ["age", "grade"]
    np.testing.assert_array_equal(loaded.gammaStar, model.gammaStar)


@pytest.mark.parametrize("problem", ["exists", "noFolder"])
def test_a_refused_model_file_stops_combat_before_it_adds_anything(scene, tmp_path, problem):
    features, clinical = loadTable(DATA / "features.csv", scene), loadTable(DATA / "clinical.csv", scene)
    modelFile = tmp_path / ("combat.json" if problem == "exists" else "missing/combat.json")
    if problem == "exists":
        modelFile.write_text("{}", encoding="utf-8")
    tables = scene.GetNumberOfNodesByClass("vtkMRMLTableNode")
    with pytest.raises(InputError, match="exists already" if problem == "exists" else "does not exist"):
        ComBatLogic(scene).harmonize(features, clinical, ComBatConfig(combatModelFile=str(modelFile)))
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == tables
    assert problem != "exists" or modelFile.read_text(encoding="utf-8") == "{}"
