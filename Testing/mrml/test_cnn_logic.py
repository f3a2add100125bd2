"""DeepOutcomeLogic on real slicer-core nodes: the Grad-CAM node has exactly the image node's geometry (oblique,
left-handed grid), is set up as a coloured overlay under the patient, and deep features become a table node."""

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.models.modelEntry import ModelEntry, ModelInput, ModelLabel
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import imageToVolumeNode, nodeGrid, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.mrml.tables import tableNodeToDataFrame

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

from VirtualBiopsy.outcome.deep.config import DeepOutcomeConfig  # noqa: E402
from VirtualBiopsy.outcome.deep.crops import makeCrop  # noqa: E402
from VirtualBiopsy.outcome.deep.features import deepFeatureTable  # noqa: E402
from VirtualBiopsy.outcome.deep.gradcam import gradCam  # noqa: E402
from VirtualBiopsy.outcome.deep.logic import SOURCE_ATTRIBUTE, DeepOutcomeLogic  # noqa: E402
from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel  # noqa: E402
from VirtualBiopsy.outcome.deep.networks import (  # noqa: E402
    buildNetwork,
    featureLayer,
    networkArguments,
    targetLayer,
)

CROP_SIZE, CROP_SPACING = 24, 3.0


def untrainedModel() -> ClassifierModel:
    """A seeded, untrained small DenseNet on T1c and FLAIR (its maps are as well defined as a trained one's)."""
    torch.manual_seed(0)
    arguments = networkArguments("DenseNet", "small", 2, 2)
    config = {
        "network": "DenseNet",
        "networkArgs": arguments,
        "channels": ["T1c", "FLAIR"],
        "classes": ["HGG", "LGG"],
        "crop": {"size": CROP_SIZE, "spacing": CROP_SPACING},
        "target": "grade",
        "targetLayer": targetLayer("DenseNet", arguments),
        "featureLayer": featureLayer("DenseNet"),
    }
    inputs = (ModelInput("T1c", 0), ModelInput("FLAIR", 1))
    labels = (ModelLabel(1, "HGG", (1, 0, 0)), ModelLabel(2, "LGG", (0, 0, 1)))
    entry = ModelEntry("untrained", "0", "monai-classifier", "/untrained", inputs, labels, "0" * 64)
    return ClassifierModel(buildNetwork("DenseNet", arguments).eval(), config, entry)


def obliqueLeftHanded() -> tuple[float, ...]:
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3)
    return tuple((rotation @ np.diag([1.0, 1.0, -1.0])).ravel())


def patientImages(seed: int = 0):
    """T1c, FLAIR and tumour mask of a noisy ball 'head' with a bright lesion, on an oblique left-handed grid."""
    rng = np.random.default_rng(seed)
    shape = (30, 44, 40)
    k, j, i = np.mgrid[: shape[0], : shape[1], : shape[2]].astype(float)
    head = ((i - 20) / 17) ** 2 + ((j - 22) / 19) ** 2 + ((k - 15) / 13) ** 2 <= 1
    lesion = ((i - 24 - seed) ** 2 + (j - 20) ** 2 + ((k - 16) * 2) ** 2) <= 25
    images = []
    for base, bright in ((100.0, 300.0), (120.0, 260.0)):
        voxels = np.where(head, base, 0.0) + np.where(lesion, bright - base, 0.0)
        voxels = voxels + rng.normal(0, 10, shape) * head
        images.append(voxels.astype(np.float32))
    result = []
    for voxels in (*images, lesion.astype(np.uint8)):
        image = sitk.GetImageFromArray(voxels)
        image.SetSpacing((1.7, 1.3, 2.9))
        image.SetOrigin((-12.3, 45.6, 7.89))
        image.SetDirection(obliqueLeftHanded())
        result.append(image)
    return result


def ijkToRas(node) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def test_gradcam_node_has_the_image_nodes_geometry_and_overlays_it(scene):
    t1c, flair, mask = patientImages()
    t1cNode, flairNode = imageToVolumeNode(t1c, scene, "T1c"), imageToVolumeNode(flair, scene, "FLAIR")
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    placeInSubjectHierarchy(scene, [t1cNode, flairNode, maskNode], "VB0001", "MR")
    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    model = untrainedModel()
    node, result = DeepOutcomeLogic(scene).gradCamNode(model, {"T1c": t1cNode, "FLAIR": flairNode}, maskNode)
    assert result.defined and node is not None
    assert nodeGrid(node) == nodeGrid(t1cNode)
    assert np.array_equal(ijkToRas(node), ijkToRas(t1cNode)) and np.linalg.det(ijkToRas(node)[:3, :3]) < 0
    direct = gradCam(model, {"T1c": t1c, "FLAIR": flair}, mask)
    assert np.array_equal(sitk.GetArrayFromImage(volumeNodeToImage(node)), sitk.GetArrayFromImage(direct.map))
    display = node.GetDisplayNode()
    assert display.GetColorNodeID() == "vtkMRMLColorTableNodeIron"  # slicer-core lacks Slicer's Inferno file
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == (0.0, 1.0) and display.GetApplyThreshold()
    assert composite.GetForegroundVolumeID() == node.GetID() and composite.GetBackgroundVolumeID() == t1cNode.GetID()
    assert composite.GetForegroundOpacity() == pytest.approx(DeepOutcomeConfig().overlayOpacity)
    assert node.GetAttribute(SOURCE_ATTRIBUTE) == t1cNode.GetID()
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    parent = shNode.GetItemParent(shNode.GetItemByDataNode(node))
    assert parent == shNode.GetItemParent(shNode.GetItemByDataNode(t1cNode))
    assert shNode.GetItemName(shNode.GetItemParent(parent)) == "VB0001"


def test_segmentation_mask_gives_the_same_map_and_unplaced_images_use_the_patient_name(scene):
    t1c, flair, mask = patientImages()
    t1cNode, flairNode = imageToVolumeNode(t1c, scene, "T1c"), imageToVolumeNode(flair, scene, "FLAIR")
    segmentation = labelmapImageToSegmentation(mask, scene, "tumour", referenceVolume=t1cNode)
    model = untrainedModel()
    logic = DeepOutcomeLogic(scene)
    config = DeepOutcomeConfig(gradCamMethod="gradcampp", gradCamClass="LGG", overlayOpacity=0.3)
    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    node, _ = logic.gradCamNode(model, {"t1c": t1cNode, "FLAIR": flairNode}, segmentation, config, subject="VB0002")
    assert composite.GetForegroundOpacity() == pytest.approx(0.3)
    direct = gradCam(model, {"T1c": t1c, "FLAIR": flair}, mask, "gradcampp", "LGG")
    assert np.array_equal(sitk.GetArrayFromImage(volumeNodeToImage(node)), sitk.GetArrayFromImage(direct.map))
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    assert shNode.GetItemName(shNode.GetItemParent(shNode.GetItemByDataNode(node))) == "VB0002"


def test_undefined_map_adds_no_node(scene):
    t1c, flair, mask = patientImages()
    nodes = {"T1c": imageToVolumeNode(t1c, scene, "T1c"), "FLAIR": imageToVolumeNode(flair, scene, "FLAIR")}
    maskNode = imageToVolumeNode(mask, scene, "tumour", labelmap=True)
    model = untrainedModel()
    with torch.no_grad():
        model.network.class_layers.out.weight.zero_()
    before = scene.GetNumberOfNodes()
    node, result = DeepOutcomeLogic(scene).gradCamNode(model, nodes, maskNode)
    assert node is None and not result.defined and "constant" in result.reason
    assert scene.GetNumberOfNodes() == before


def test_deep_feature_table_node_holds_the_libraries_table(scene):
    model = untrainedModel()
    cases, crops = {}, {}
    for seed, patient in enumerate(("VB0001", "VB0002")):
        t1c, flair, mask = patientImages(seed)
        cases[patient] = (
            {
                "T1c": imageToVolumeNode(t1c, scene, f"{patient} T1c"),
                "FLAIR": imageToVolumeNode(flair, scene, f"{patient} FLAIR"),
            },
            imageToVolumeNode(mask, scene, f"{patient} tumour", labelmap=True),
        )
        crops[patient] = makeCrop({"T1c": t1c, "FLAIR": flair}, mask, ["T1c", "FLAIR"], CROP_SIZE, CROP_SPACING)
    tableNode = DeepOutcomeLogic(scene).deepFeatureTableNode(model, cases)
    table = tableNodeToDataFrame(tableNode)
    expected = deepFeatureTable(model, crops)
    assert list(table.columns) == list(expected.columns) and table["patient"].tolist() == ["VB0001", "VB0002"]
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(float), expected.iloc[:, 1:].to_numpy(float), rtol=1e-6)


def test_cancelled_deep_features_add_no_table(scene):
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    t1c, flair, mask = patientImages()
    images = {"T1c": imageToVolumeNode(t1c, scene, "T1c"), "FLAIR": imageToVolumeNode(flair, scene, "FLAIR")}
    cases = {"VB0001": (images, imageToVolumeNode(mask, scene, "tumour", labelmap=True))}
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        DeepOutcomeLogic(scene).deepFeatureTableNode(untrainedModel(), cases, cancel=cancel)
    assert scene.GetNodesByClass("vtkMRMLTableNode").GetNumberOfItems() == 0
