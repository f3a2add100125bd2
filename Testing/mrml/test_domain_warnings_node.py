"""The training-domain warnings a model recorded on its segmentation node, as the Segmentation panel shows them."""

import json

from VirtualBiopsy.segment.modelLogic import PROVENANCE_ATTRIBUTE, domainWarningsOf


def test_warnings_are_read_from_the_segmentations_provenance(scene):
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "tumour")
    assert domainWarningsOf(segmentation) == [] and domainWarningsOf(None) == []
    segmentation.SetAttribute(
        PROVENANCE_ATTRIBUTE, json.dumps({"modelId": "demo", "domainWarnings": ["FLAIR: spacing 0.5 mm"]})
    )
    assert domainWarningsOf(segmentation) == ["FLAIR: spacing 0.5 mm"]
    segmentation.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps({"modelId": "demo"}))
    assert domainWarningsOf(segmentation) == []
    segmentation.SetAttribute(PROVENANCE_ATTRIBUTE, "{broken")
    assert domainWarningsOf(segmentation) == []
