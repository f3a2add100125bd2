"""PatientSummaryLogic on slicer-core nodes: a saved logistic regression's summary equals the
pipeline's own probabilities, its contributions come from the explain table, the bar chart sits
under the patient, and a Grad-CAM volume node gives a thumbnail of its source volume."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import slicer
from matplotlib import image as mpimg

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.outcome.classification.artifact import loadClassifier
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic
from VirtualBiopsy.outcome.deep.logic import SOURCE_ATTRIBUTE
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.patientSummaryLogic import PatientSummaryLogic

CONFIG = ClassificationConfig(
    targetColumn="grade", positiveClass="HGG", models=["lr"], folds=3, repeats=1, bootstrapSamples=200, thresholdFolds=2
)


def _tables(scene, patients=36, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(patients, 3))
    high = values[:, 0] - values[:, 1] + rng.normal(scale=0.5, size=patients) > 0
    ids = [f"P{i:02d}" for i in range(patients)]
    features = pd.DataFrame({"patient": ids, "a": values[:, 0], "b": values[:, 1], "c": values[:, 2]})
    clinical = pd.DataFrame({"patient": ids, "grade": np.where(high, "HGG", "LGG")})
    return dataFrameToTableNode(features, scene, "features"), dataFrameToTableNode(clinical, scene, "clinical")


@pytest.mark.slow
def test_summary_of_a_saved_classifier_and_its_contributions_chart(scene, tmp_path):
    featuresNode, clinicalNode = _tables(scene)
    classification = ClassificationLogic(scene)
    classification.saveResults(classification.run(featuresNode, clinicalNode, CONFIG), tmp_path / "out")
    folder = tmp_path / "out" / "models" / "lr"
    shapTable = classification.explain(
        folder, featuresNode, ClassifierPanelConfig(shapBackgroundSize=12, randomSeed=1)
    ).shapTable

    config = PatientSummaryConfig(summaryPatient="P07", topContributions=2)
    summary = PatientSummaryLogic(scene).summarize(folder, featuresNode, config, shapTable=shapTable)
    model = loadClassifier(folder)
    features = tableNodeToDataFrame(featuresNode).set_index("patient")[["a", "b", "c"]]
    probability = model.pipeline.predict_proba(features.loc[["P07"]].to_numpy())[0, 1]
    assert summary.probability == pytest.approx(probability, abs=1e-9)
    assert summary.threshold == pytest.approx(model.card["threshold"])
    assert summary.prediction == ("HGG" if summary.score >= summary.threshold else "LGG")
    scores = model.score(features)
    assert summary.percentile == pytest.approx(100 * ((scores < summary.score).sum() + 0.5) / 36)
    shap = tableNodeToDataFrame(shapTable).set_index("patient").loc["P07", ["a", "b", "c"]]
    assert [c.feature for c in summary.contributions] == shap.abs().sort_values(ascending=False).index[:2].tolist()

    table, chart = PatientSummaryLogic(scene).contributionsChart(summary)
    assert tableNodeToDataFrame(table)["feature"].tolist() == [c.feature for c in summary.contributions]
    series = chart.GetNthPlotSeriesNode(0)
    assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = shNode.GetItemParent(shNode.GetItemByDataNode(chart))
    assert shNode.GetItemName(shNode.GetItemParent(study)) == "P07"


def test_thumbnail_of_a_map_node_and_refusals(scene):
    k, j, i = np.indices((10, 24, 20))
    image = sitk.GetImageFromArray((100.0 + 50.0 * (k == 6)).astype(np.float32))
    image.SetSpacing((0.8, 1.6, 3.0))
    camMap = sitk.GetImageFromArray(np.where((k == 6) & (abs(j - 12) < 4), 1.0, 0.0).astype(np.float32))
    camMap.CopyInformation(image)
    source = imageToVolumeNode(image, scene, "T1c")
    mapNode = imageToVolumeNode(camMap, scene, "map")
    logic = PatientSummaryLogic(scene)
    with pytest.raises(InputError, match="does not name the volume"):
        logic.thumbnail(mapNode)
    mapNode.SetAttribute(SOURCE_ATTRIBUTE, source.GetID())
    png = logic.thumbnail(mapNode, size=64)
    assert png[:4] == b"\x89PNG"
    with pytest.raises(InputError, match="no Shapley contributions"):
        from VirtualBiopsy.outcome.patientSummary import summarizePatient

        logic.contributionsChart(summarizePatient("P1", pd.Series({"P1": 0.2}), 0.0, "1", "0", "logOdds"))


@pytest.mark.slow
def test_thumbnail_of_a_real_grad_cam_node_shows_its_heaviest_slice(scene):
    pytest.importorskip("monai")
    from test_cnn_logic import patientImages, untrainedModel

    from VirtualBiopsy.outcome.deep.logic import DeepOutcomeLogic
    from VirtualBiopsy.outcome.deep.thumbnail import thumbnailSlice

    t1c, flair, mask = patientImages()
    t1cNode, flairNode = imageToVolumeNode(t1c, scene, "T1c"), imageToVolumeNode(flair, scene, "FLAIR")
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    node, result = DeepOutcomeLogic(scene).gradCamNode(
        untrainedModel(), {"T1c": t1cNode, "FLAIR": flairNode}, maskNode, subject="VB0001"
    )
    assert result.defined
    camMap = sitk.GetArrayFromImage(result.map)
    heaviest = int(np.argmax(np.clip(camMap, 0, None).sum(axis=(1, 2))))
    assert thumbnailSlice(camMap) == heaviest
    png = PatientSummaryLogic(scene).thumbnail(node, size=80)
    assert mpimg.imread(io.BytesIO(png)).shape[:2] == (80, 80)
