"""Bodies of the Harmonization module's self-tests, one per section, on synthetic data (3D Slicer only).

Each takes the running ``ScriptedLoadableModuleTest`` (for its assertions and ``delayDisplay``)
and the module's logic, so that the module file keeps only the test class that calls them. Settings are
set through ``parameterNode.<section>.<field>`` each time (a section read once goes stale after an action
stores its outputs).
"""

import numpy as np
import slicer

from VirtualBiopsyWidgets.moduleSupport import addSyntheticTumourVolume


def _shell(size: int) -> np.ndarray:
    """Voxels of :func:`addSyntheticTumourVolume`'s head away from its edges and from the tumour (KJI)."""
    centre = (size - 1) / 2.0
    k, j, i = np.indices((size, size, size))
    radius = np.sqrt((k - centre) ** 2 + (j - centre) ** 2 + (i - centre) ** 2)
    return (radius > 0.15 * size) & (radius < 0.35 * size)


def testPreprocessing(case, logic) -> None:
    """N4 flattens a bias ramp, denoising lowers the error, resampling halves the grid, the head mask
    covers the head; every output is a new node and the input is unchanged."""
    case.delayDisplay("Preprocessing a synthetic volume with a bias ramp")
    size = 32
    volume, head, tumour = addSyntheticTumourVolume(size=size)
    voxels = slicer.util.arrayFromVolume(volume)
    ramp = np.linspace(0.7, 1.3, size)[np.newaxis, np.newaxis, :]
    biased = slicer.util.addVolumeFromArray((voxels * ramp).astype(np.float32), name="Biased")
    before = slicer.util.arrayFromVolume(biased).copy()
    parameterNode = logic.getParameterNode()
    parameterNode.preprocessing.inputVolume = biased
    parameterNode.preprocessing.n4ShrinkFactor = 2
    parameterNode.preprocessing.n4Levels = 2
    parameterNode.preprocessing.n4Iterations = 20

    corrected = logic.correctBiasField(parameterNode)
    case.assertIs(parameterNode.preprocessing.outputVolume, corrected)
    case.assertNotEqual(corrected.GetID(), biased.GetID())
    healthy = head & ~tumour

    def variation(array: np.ndarray) -> float:
        return float(array[healthy].std() / array[healthy].mean())

    case.assertLess(variation(slicer.util.arrayFromVolume(corrected)), 0.8 * variation(before))

    parameterNode.preprocessing.inputVolume = volume
    parameterNode.preprocessing.denoisingMethod = "gradientAnisotropicDiffusion"
    truth = 100.0 * head + 100.0 * tumour
    shell = _shell(size)
    denoised = slicer.util.arrayFromVolume(logic.denoise(parameterNode))
    case.assertLess(np.abs(denoised - truth)[shell].mean(), 0.5 * np.abs(voxels - truth)[shell].mean())

    parameterNode.preprocessing.resamplingPreset = "isotropic"
    parameterNode.preprocessing.resamplingSpacingMm = 2.0
    resampled = logic.resample(parameterNode)
    case.assertEqual(resampled.GetImageData().GetDimensions(), (size // 2,) * 3)
    case.assertAlmostEqual(resampled.GetSpacing()[0], 2.0)

    labelmap = logic.headMask(parameterNode)
    case.assertIs(parameterNode.preprocessing.headMaskLabelmap, labelmap)
    case.assertTrue(labelmap.IsA("vtkMRMLLabelMapVolumeNode"))
    mask = slicer.util.arrayFromVolume(labelmap) > 0
    case.assertGreater(np.count_nonzero(mask & head), 0.95 * np.count_nonzero(head))
    case.assertLess(np.count_nonzero(mask & ~head), 0.05 * np.count_nonzero(head))
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(biased), before)
    case.delayDisplay("Test passed")


def testRegistration(case, logic) -> None:
    """A copy of the volume shifted by (3, -2, 1) mm is brought back onto it: the registered volume
    matches the fixed one, QC passes, and a transform node is made."""
    case.delayDisplay("Registering a shifted copy of a synthetic volume")
    fixed, head, _tumour = addSyntheticTumourVolume(size=48)
    voxels = slicer.util.arrayFromVolume(fixed)
    moving = slicer.util.addVolumeFromArray(voxels.copy(), name="Moving")
    moving.SetOrigin(3.0, -2.0, 1.0)
    parameterNode = logic.getParameterNode()
    parameterNode.registration.fixedVolume = fixed
    parameterNode.registration.movingVolume = moving
    parameterNode.registration.registrationStages = "rigid"

    transformNode, registered, result = logic.register(parameterNode)
    case.assertIs(parameterNode.registration.outputTransform, transformNode)
    case.assertIs(parameterNode.registration.outputVolume, registered)
    case.assertTrue(transformNode.IsA("vtkMRMLTransformNode"))
    case.assertTrue(result.qcPassed)
    case.assertGreater(result.metrics["nmiAfter"], result.metrics["nmiBefore"])
    aligned = slicer.util.arrayFromVolume(registered)
    case.assertGreater(float(np.corrcoef(aligned[head], voxels[head])[0, 1]), 0.99)
    case.assertEqual(moving.GetOrigin(), (3.0, -2.0, 1.0))
    case.delayDisplay("Test passed")


def testComBat(case, logic) -> None:
    """ComBat removes a site shift from a features table, saves the model, and refuses to overwrite it."""
    import pathlib
    import tempfile

    import pandas as pd

    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.harmonize.combat import ComBatModel
    from VirtualBiopsy.mrml.tables import dataFrameToTableNode

    case.delayDisplay("ComBat on a synthetic two-site features table")
    rng = np.random.default_rng(7)
    site = np.repeat(["A", "B"], 20)
    patients = [f"case{index:02d}" for index in range(site.size)]
    shift = np.where(site == "B", 5.0, 0.0)
    features = pd.DataFrame(
        {
            "patient": patients,
            "mean": 10 + shift + rng.normal(0, 1, site.size),
            "contrast": 3 - shift + rng.normal(0, 1, site.size),
        }
    )
    clinical = pd.DataFrame({"patient": patients, "site": site, "age": rng.uniform(5, 15, site.size)})
    parameterNode = logic.getParameterNode()
    parameterNode.combat.featuresTable = dataFrameToTableNode(features, slicer.mrmlScene, "features")
    parameterNode.combat.clinicalTable = dataFrameToTableNode(clinical, slicer.mrmlScene, "clinical")
    parameterNode.combat.combatCovariates = "age"
    with tempfile.TemporaryDirectory() as folder:
        modelFile = pathlib.Path(folder) / "combat.json"
        parameterNode.combat.combatModelFile = str(modelFile)
        model, table = logic.harmonizeFeatures(parameterNode)
        case.assertIs(parameterNode.combat.outputTable, table)
        case.assertEqual(ComBatModel.load(modelFile).batches, model.batches)
        harmonized = slicer.util.dataframeFromTable(table)
        case.assertEqual(list(harmonized["patient"]), patients)
        for name in ("mean", "contrast"):
            gap = abs(harmonized[name][site == "A"].mean() - harmonized[name][site == "B"].mean())
            case.assertLess(gap, 0.1 * 5.0)
        tables = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLTableNode")
        parameterNode.combat.outputTable = None
        with case.assertRaises(InputError):
            logic.harmonizeFeatures(parameterNode)
        case.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLTableNode"), tables)
    case.delayDisplay("Test passed")


def testStyleTransfer(case, logic) -> None:
    """A tiny CycleGAN trained for a few steps translates a volume into a new node on the input's grid."""
    import importlib.util
    import pathlib
    import tempfile

    import SimpleITK as sitk

    if importlib.util.find_spec("torch") is None:
        case.delayDisplay("Skipped: torch is not installed (PyTorch extension)")
        return
    from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
    from VirtualBiopsy.harmonize.styleTransfer.training import trainCycleGan, trainingArguments
    from VirtualBiopsy.progress import noProgress

    case.delayDisplay("Training a tiny style-transfer model and applying it")
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for site, (seed, scale) in {"A": (1, 1.0), "B": (2, 2.5)}.items():
            volume, _head, _tumour = addSyntheticTumourVolume(name=f"site{site}", size=32, seed=seed)
            image = sitk.GetImageFromArray(slicer.util.arrayFromVolume(volume) * scale)
            paths[site] = str(pathlib.Path(folder) / f"site{site}.nrrd")
            sitk.WriteImage(image, paths[site])
        config = CycleGanConfig.fromDict(
            {
                "generatorFilters": 8,
                "residualBlocks": 1,
                "discriminatorFilters": 8,
                "sliceSize": 32,
                "batchSize": 2,
                "poolSize": 4,
            }
        )
        modelFolder = pathlib.Path(folder) / "model"
        trainCycleGan(
            trainingArguments(
                [paths["A"]],
                [paths["B"]],
                str(modelFolder),
                "T2",
                "SiteA",
                "SiteB",
                config,
                epochs=1,
                iterationsPerEpoch=2,
                device="cpu",
                seed=0,
                threads=1,
            ),
            noProgress,
        )
        source = slicer.mrmlScene.GetFirstNodeByName("siteA")
        parameterNode = logic.getParameterNode()
        parameterNode.styleTransfer.inputVolume = source
        parameterNode.styleTransfer.styleModel = str(modelFolder)
        parameterNode.styleTransfer.styleDevice = "cpu"
        output = logic.transferStyle(parameterNode)
    case.assertIs(parameterNode.styleTransfer.outputVolume, output)
    case.assertNotEqual(output.GetID(), source.GetID())
    case.assertEqual(output.GetImageData().GetDimensions(), source.GetImageData().GetDimensions())
    case.assertEqual(output.GetSpacing(), source.GetSpacing())
    case.assertIsNotNone(output.GetAttribute("VirtualBiopsy.styleTransfer"))
    case.assertTrue(np.all(np.isfinite(slicer.util.arrayFromVolume(output))))
    case.delayDisplay("Test passed")


def testZScoreInHead(case, logic) -> None:
    """The output has mean 0 and SD 1 inside the head, the background value outside."""
    case.delayDisplay("Harmonizing a synthetic volume")
    inputVolume, head, _tumour = addSyntheticTumourVolume()
    inputBefore = slicer.util.arrayFromVolume(inputVolume).copy()
    parameterNode = logic.getParameterNode()
    parameterNode.normalization.inputVolume = inputVolume
    parameterNode.normalization.backgroundValue = -5.0
    reports = []
    outputVolume = logic.process(parameterNode, progress=lambda fraction, message: reports.append(fraction))

    case.assertIsNotNone(outputVolume)
    case.assertIs(parameterNode.normalization.outputVolume, outputVolume)
    case.assertNotEqual(outputVolume.GetID(), inputVolume.GetID())
    output = slicer.util.arrayFromVolume(outputVolume)
    case.assertAlmostEqual(float(output[head].mean()), 0.0, delta=1e-2)
    case.assertAlmostEqual(float(output[head].std()), 1.0, delta=1e-2)
    case.assertTrue(np.all(output[~head] == -5.0))
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(inputVolume), inputBefore)
    case.assertEqual(reports[-1], 1.0)
    case.delayDisplay("Test passed")


def testCancelLeavesNoOutput(case, logic) -> None:
    """A cancelled run raises CancelledError and adds no volume to the scene."""
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    inputVolume, _head, _tumour = addSyntheticTumourVolume(size=24)
    parameterNode = logic.getParameterNode()
    parameterNode.normalization.inputVolume = inputVolume
    volumesBefore = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    cancel = CancelToken()
    cancel.cancel()
    with case.assertRaises(CancelledError):
        logic.process(parameterNode, cancel=cancel)
    case.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode"), volumesBefore)
    case.assertIsNone(parameterNode.normalization.outputVolume)
    case.delayDisplay("Test passed")


def testPercentileInSegmentation(case, logic) -> None:
    """Percentile rescaling with statistics from a segmentation: the tumour spans [0, 1], 0 outside."""
    import SimpleITK as sitk

    from VirtualBiopsy.mrml import labelmapImageToSegmentation, volumeNodeToImage

    inputVolume, _head, tumour = addSyntheticTumourVolume(size=32)
    tumourImage = sitk.GetImageFromArray(tumour.astype(np.uint8))
    tumourImage.CopyInformation(volumeNodeToImage(inputVolume))
    segmentation = labelmapImageToSegmentation(tumourImage, slicer.mrmlScene, "Tumour", referenceVolume=inputVolume)
    parameterNode = logic.getParameterNode()
    parameterNode.normalization.inputVolume = inputVolume
    parameterNode.normalization.normalization = "percentile"
    parameterNode.normalization.maskMode = "mask"
    parameterNode.normalization.maskSegmentation = segmentation
    output = slicer.util.arrayFromVolume(logic.process(parameterNode))
    case.assertAlmostEqual(float(output[tumour].min()), 0.0, delta=1e-6)
    case.assertAlmostEqual(float(output[tumour].max()), 1.0, delta=1e-6)
    case.assertTrue(np.all(output[~tumour] == 0.0))
    case.delayDisplay("Test passed")
