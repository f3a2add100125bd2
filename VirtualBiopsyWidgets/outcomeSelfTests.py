"""Bodies of the Outcome module's self-test (3D Slicer only): each takes the running
``ScriptedLoadableModuleTest`` (``case``: asserts, ``delayDisplay``) and a fresh module logic, on
an empty scene, with synthetic data."""

from __future__ import annotations

import pathlib

import slicer

from VirtualBiopsyWidgets.moduleSupport import addSyntheticTumourVolume


def _cohortTables(seed: int = 3, patients: int = 30):
    """Features, clinical and survival tables of two well-separated groups: group 1 has larger
    tumours, high grade and shorter survival."""
    import numpy as np
    import pandas as pd

    from VirtualBiopsy.mrml.tables import dataFrameToTableNode

    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1], patients // 2)
    ids = [f"case{index:02d}" for index in range(group.size)]
    features = pd.DataFrame(
        {
            "patient": ids,
            "size": 5.0 * group + rng.normal(0, 0.5, group.size),
            "contrast": -5.0 * group + rng.normal(0, 0.5, group.size),
        }
    )
    clinical = pd.DataFrame(
        {
            "patient": ids,
            "time": rng.exponential(np.where(group == 1, 5.0, 40.0)),
            "event": np.ones(group.size, dtype=int),
            "grade": np.where(group == 1, "HGG", "LGG"),
            "highGrade": group,
            "age": rng.normal(60, 8, group.size),
        }
    )
    scene = slicer.mrmlScene
    return (dataFrameToTableNode(features, scene, "features"), dataFrameToTableNode(clinical, scene, "clinical"), group)


def testExtractFeatures(case, logic) -> None:
    """Only the chosen feature classes, and the tumour's voxel volume, appear in the table."""
    import importlib.util

    if importlib.util.find_spec("radiomics") is None:
        case.delayDisplay("Skipped: pyradiomics is not installed")
        return
    case.delayDisplay("Extracting features of a synthetic tumour")
    volume, _head, tumour = addSyntheticTumourVolume(size=48)
    labelmap = slicer.util.addVolumeFromArray(tumour.astype("uint8"), nodeClassName="vtkMRMLLabelMapVolumeNode")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(labelmap, segmentation)
    parameterNode = logic.getParameterNode()
    parameterNode.features.volume, parameterNode.features.segmentation = volume, segmentation
    parameterNode.features.featureClasses = ["shape", "firstorder"]
    parameterNode.features.binWidth = 5.0

    table = logic.extractFeatures(parameterNode)
    case.assertIs(parameterNode.features.outputTable, table)
    frame = slicer.util.dataframeFromTable(table)
    case.assertEqual(list(frame.columns), ["Segment", "Feature", "Value"])
    case.assertEqual(len(set(frame["Segment"])), 1)
    features = dict(zip(frame["Feature"], frame["Value"]))
    case.assertTrue(any(name.startswith("original_shape_") for name in features))
    case.assertTrue(any(name.startswith("original_firstorder_") for name in features))
    case.assertFalse(any("glcm" in name for name in features))
    case.assertAlmostEqual(float(features["original_shape_VoxelVolume"]), float(tumour.sum()), delta=0.5)

    case.delayDisplay("Two sequences: features prefixed by the volume names, shape once")
    second = slicer.util.addVolumeFromArray(slicer.util.arrayFromVolume(volume) * 2.0, name="Second")
    second.CopyOrientation(volume)
    table = logic.extractFeatures(parameterNode, additionalVolumes=[second])
    names = set(slicer.util.dataframeFromTable(table)["Feature"])
    case.assertIn("Second_original_firstorder_Mean", names)
    case.assertFalse(any(name.startswith("Second_original_shape") for name in names))
    case.delayDisplay("Test passed")


def testCohortOutcome(case, logic) -> None:
    """Two well-separated groups with different survival give two clusters, two curves
    and a small log-rank p-value.
    """
    import numpy as np
    import pandas as pd

    from VirtualBiopsy.mrml.tables import dataFrameToTableNode

    case.delayDisplay("Comparing the survival of a synthetic cohort")
    rng = np.random.default_rng(3)
    group = np.repeat([0, 1], 15)
    patients = [f"case{index:02d}" for index in range(group.size)]
    features = pd.DataFrame(
        {
            "patient": patients,
            "size": 5.0 * group + rng.normal(0, 0.5, group.size),
            "contrast": -5.0 * group + rng.normal(0, 0.5, group.size),
        }
    )
    clinical = pd.DataFrame(
        {
            "patient": patients,
            "time": rng.exponential(np.where(group == 1, 5.0, 40.0)),
            "event": np.ones(group.size, dtype=int),
        }
    )
    parameterNode = logic.getParameterNode()
    parameterNode.cohort.featuresTable = dataFrameToTableNode(features, slicer.mrmlScene, "features")
    parameterNode.cohort.clinicalTable = dataFrameToTableNode(clinical, slicer.mrmlScene, "clinical")

    result = logic.analyzeCohort(parameterNode)
    case.assertIs(parameterNode.cohort.outputTable, result.tables["clusters"])
    clusters = slicer.util.dataframeFromTable(result.tables["clusters"])["cluster"]
    case.assertEqual(len(clusters), group.size)
    case.assertEqual(len(set(clusters)), 2)
    chart = result.chart
    series = {chart.GetNthPlotSeriesNode(index).GetName() for index in range(chart.GetNumberOfPlotSeriesNodes())}
    case.assertTrue({"0", "1"} <= series)  # one survival curve per cluster (with its band and censoring marks)
    case.assertLess(result.logRankPValue, 0.01)
    case.delayDisplay(f"Test passed (p = {result.logRankPValue:.2g})")


def testFeatureExploration(case, logic) -> None:
    """A feature that separates the classes is the only significant one, a volume surrogate
    is flagged, and the files land in the chosen folder.
    """
    import tempfile

    import numpy as np
    import pandas as pd

    from VirtualBiopsy.mrml.tables import dataFrameToTableNode

    case.delayDisplay("Exploring the features of a synthetic cohort")
    rng = np.random.default_rng(5)
    highGrade = np.arange(30) % 2
    volume = rng.lognormal(8.0, 0.5, highGrade.size)
    patients = [f"case{index:02d}" for index in range(highGrade.size)]
    features = pd.DataFrame(
        {
            "patient": patients,
            "original_shape_MeshVolume": volume,
            "original_shape_SurfaceArea": volume ** (2 / 3) * (1 + rng.normal(0, 0.02, highGrade.size)),
            "original_firstorder_Mean": 4.0 * highGrade + rng.normal(0, 1, highGrade.size),
            "original_glcm_Contrast": rng.normal(0, 1, highGrade.size),
        }
    )
    clinical = pd.DataFrame({"patient": patients, "highGrade": highGrade})
    parameterNode = logic.getParameterNode()
    parameterNode.cohort.featuresTable = dataFrameToTableNode(features, slicer.mrmlScene, "features")
    parameterNode.cohort.clinicalTable = dataFrameToTableNode(clinical, slicer.mrmlScene, "clinical")
    parameterNode.exploration.outcomeColumn = "highGrade"
    parameterNode.exploration.positiveClass = "1"

    with tempfile.TemporaryDirectory() as folder:
        parameterNode.exploration.outputFolder = str(pathlib.Path(folder) / "exploration")
        result = logic.exploreFeatures(parameterNode)
        case.assertEqual(result.outputFolder, pathlib.Path(folder) / "exploration")
        case.assertTrue((result.outputFolder / "univariate.csv").is_file())
        case.assertTrue((result.outputFolder / "statistics.xlsx").is_file())
    case.assertIs(parameterNode.exploration.univariateTable, result.univariate)
    univariate = slicer.util.dataframeFromTable(result.univariate)
    case.assertEqual(len(univariate), 4)
    case.assertEqual(result.significantFeatures, ["original_firstorder_Mean"])
    case.assertIn("original_shape_SurfaceArea", result.volumeCorrelatedFeatures)
    case.assertEqual(result.summary["positiveClass"], 1)
    case.delayDisplay("Test passed")


def testSurvival(case, logic) -> None:
    """Kaplan-Meier by grade separates the groups; the Cox model's C-index is lifelines' on its
    prognostic index, well above chance."""
    from lifelines.utils import concordance_index

    from VirtualBiopsy.mrml.tables import tableNodeToDataFrame

    case.delayDisplay("Kaplan-Meier curves and a Cox model of a synthetic cohort")
    _features, clinical, _group = _cohortTables()
    parameterNode = logic.getParameterNode()
    parameterNode.survival.table = clinical
    parameterNode.survival.groupColumn = "grade"
    nodes = logic.kaplanMeier(parameterNode)
    case.assertIs(parameterNode.survival.kaplanMeierChart, nodes.chart)
    case.assertEqual(len(nodes.result.groups), 2)
    case.assertLess(float(nodes.result.logRank.iloc[0]["p"]), 0.01)
    parameterNode.survival.covariates = ["highGrade", "age"]
    parameterNode.survival.cindexBootstrap = 100
    cox = logic.cox(parameterNode)
    case.assertIs(parameterNode.survival.coxChart, cox.chart)
    cindex = float(cox.result.concordance.iloc[0]["cindex"])
    frame = tableNodeToDataFrame(clinical)
    case.assertAlmostEqual(
        cindex, concordance_index(frame["time"], -cox.result.prognosticIndex.to_numpy(), frame["event"]), places=12
    )
    case.assertGreater(cindex, 0.6)
    case.assertTrue(logic.concordanceText(cox).startswith("C-index"))
    case.delayDisplay("Test passed")


def testClassifiersAndSummary(case, logic) -> None:
    """A separable diagnosis gives a high AUC; the saved model explains and summarizes a patient of
    the positive group as positive, with its two features as the contributions."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("skops") is None or importlib.util.find_spec("shapiq") is None:
        case.delayDisplay("Skipped: skops or shapiq is not installed")
        return
    case.delayDisplay("Comparing classifiers, explaining and summarizing a patient")
    features, clinical, _group = _cohortTables(seed=4)
    parameterNode = logic.getParameterNode()
    parameterNode.cohort.featuresTable, parameterNode.cohort.clinicalTable = features, clinical
    parameterNode.classifiers.targetColumn, parameterNode.classifiers.targetPositiveClass = "grade", "HGG"
    classifiers = parameterNode.classifiers
    classifiers.classifierModels, classifiers.folds, classifiers.repeats = ["lr"], 3, 2
    result = logic.compareClassifiers(parameterNode)
    case.assertIs(parameterNode.classifiers.rocChart, result.rocChart)
    case.assertGreater(float(result.comparison.performance["auc_mean"].iloc[0]), 0.9)
    with tempfile.TemporaryDirectory() as folder:
        from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic

        ClassificationLogic(slicer.mrmlScene).saveResults(result, pathlib.Path(folder) / "out")
        parameterNode.classifiers.classifierModelFolder = str(pathlib.Path(folder) / "out" / "models" / "lr")
        parameterNode.patientSummary.summaryPatient, parameterNode.classifiers.shapBackgroundSize = "case20", 10
        _explanation, chart = logic.explainPatient(parameterNode)
        case.assertIs(parameterNode.classifiers.contributionsChart, chart)
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = shNode.GetItemParent(shNode.GetItemByDataNode(chart))
        case.assertEqual(shNode.GetItemName(shNode.GetItemParent(study)), "case20")
        summary = logic.summarizePatient(parameterNode)
    case.assertEqual(summary.prediction, "HGG")
    case.assertGreater(summary.confidence, 0.5)
    case.assertGreater(summary.percentile, 50.0)
    case.assertEqual({c.feature for c in summary.contributions}, {"size", "contrast"})
    case.delayDisplay("Test passed")


#: The self-tests, in the order ``runTest`` runs them, with the actions whose requirements each needs
#: (installed first, so that the tests pass in a Slicer that has only what the extension installs).
SELF_TESTS = [
    (("features",), testExtractFeatures),
    (("cohortOutcome",), testCohortOutcome),
    (("exploration",), testFeatureExploration),
    (("survival",), testSurvival),
    (("classifiers", "patientSummary"), testClassifiersAndSummary),
]
