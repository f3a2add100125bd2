"""Bodies of the Segmentation module's self-test (3D Slicer only): each takes the running
``ScriptedLoadableModuleTest`` (``case``: asserts, ``delayDisplay``) and a fresh module logic, on
an empty scene, with a synthetic tumour."""

from __future__ import annotations

import slicer

from VirtualBiopsyWidgets.moduleSupport import addSyntheticTumourVolume


def _segment(logic, **settings) -> tuple:
    inputVolume, _head, tumour = addSyntheticTumourVolume()
    parameterNode = logic.getParameterNode()
    parameterNode.segmentation.inputVolume = inputVolume
    for name, value in settings.items():
        setattr(parameterNode.segmentation, name, value)
    return parameterNode, logic.process(parameterNode), tumour


def findsTumour(case, logic) -> None:
    """One non-empty segment, named as set, that overlaps the synthetic tumour (Dice > 0.8)."""
    import numpy as np

    case.delayDisplay("Segmenting a synthetic tumour")
    parameterNode, segmentation, tumour = _segment(logic, segmentName="Lesion")
    case.assertIs(parameterNode.segmentation.outputSegmentation, segmentation)
    segments = segmentation.GetSegmentation()
    case.assertEqual(segments.GetNumberOfSegments(), 1)
    segmentId = segments.GetSegmentIdBySegmentName("Lesion")
    case.assertTrue(segmentId)
    volume = parameterNode.segmentation.inputVolume
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segmentId, volume) > 0
    case.assertGreater(int(mask.sum()), 0)
    dice = 2.0 * np.logical_and(mask, tumour).sum() / (mask.sum() + tumour.sum())
    case.assertGreater(dice, 0.8)
    case.delayDisplay(f"Test passed (Dice {dice:.3f})")


def reviewsInSegmentEditor(case, logic) -> None:
    """The Segment Editor opens with the segmentation and the source volume selected."""
    if slicer.util.mainWindow() is None:
        case.delayDisplay("Skipped: the Segment Editor review needs the main window")
        return
    parameterNode, segmentation, _tumour = _segment(logic)
    logic.reviewInSegmentEditor(parameterNode)
    editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
    case.assertEqual(editor.segmentationNode().GetID(), segmentation.GetID())
    case.assertEqual(editor.sourceVolumeNode().GetID(), parameterNode.segmentation.inputVolume.GetID())
    case.delayDisplay("Test passed")


def comparesWithAiResult(case, logic) -> None:
    """Erasing one slice of the reviewed tumour shows up as that slice's volume removed."""
    import numpy as np

    from VirtualBiopsy.segment.review import ReviewLogic

    case.delayDisplay("Comparing a corrected segmentation with the AI result")
    parameterNode, segmentation, _tumour = _segment(logic)
    ReviewLogic(slicer.mrmlScene).startReview(segmentation)
    case.assertTrue(logic.isUnderReview(parameterNode))
    segmentId = segmentation.GetSegmentation().GetNthSegmentID(0)
    volume = parameterNode.segmentation.inputVolume
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segmentId, volume)
    erased = mask.copy()
    erasedSlice = int(mask.any(axis=(1, 2)).nonzero()[0].mean())
    erased[erasedSlice] = 0
    slicer.util.updateSegmentBinaryLabelmapFromArray(erased, segmentation, segmentId, volume)

    table = logic.compareWithAiResult(parameterNode)
    case.assertIs(parameterNode.review.changesTable, table)
    row = slicer.util.dataframeFromTable(table).iloc[0]
    voxelMl = float(np.prod(volume.GetSpacing())) / 1000.0
    case.assertEqual(row["Change"], "edited")
    case.assertAlmostEqual(float(row["Removed (ml)"]), int(mask[erasedSlice].sum()) * voxelMl, places=6)
    case.assertAlmostEqual(float(row["Added (ml)"]), 0.0)
    case.delayDisplay(f"Test passed (removed {float(row['Removed (ml)']):.2f} ml)")


#: The self-tests, in order.
SELF_TESTS = (findsTumour, reviewsInSegmentEditor, comparesWithAiResult)
