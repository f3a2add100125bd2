"""Reading and writing volumes through storage nodes: formats, DICOM, bad input, safe writes."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.files import atomicOutput
from VirtualBiopsy.imageGeometry import gridDifferences, gridOf
from VirtualBiopsy.mrml import (
    imageToVolumeNode,
    loadVolume,
    saveNode,
    volumeNodeToImage,
)

#: Largest geometry error each format's header allows (NIfTI keeps float32 in its header).
FORMAT_TOLERANCE = {".nrrd": 1e-12, ".nhdr": 1e-12, ".mha": 1e-12, ".mhd": 1e-12, ".nii": 1e-5, ".nii.gz": 1e-5}


def writeDicomSeries(image: sitk.Image, folder: pathlib.Path, seriesUid: str) -> None:
    """Write ``image`` as one MR DICOM file per slice with position, orientation and spacing tags."""
    folder.mkdir(parents=True, exist_ok=True)
    direction = image.GetDirection()
    orientation = "\\".join(
        str(v) for v in (direction[0], direction[3], direction[6], direction[1], direction[4], direction[7])
    )
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        slice2d = image[:, :, k]
        tags = {
            "0008|0016": "1.2.840.10008.5.1.4.1.1.4",
            "0008|0018": f"{seriesUid}.{k + 1}",
            "0008|0060": "MR",
            "0010|0010": "Virtual^Patient",
            "0010|0020": "VB001",
            "0020|000d": "1.2.826.0.1.3680043.8.498.1",
            "0020|000e": seriesUid,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(str(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))),
            "0020|0037": orientation,
            "0028|0030": f"{image.GetSpacing()[1]}\\{image.GetSpacing()[0]}",
            "0018|0050": str(image.GetSpacing()[2]),
        }
        for tag, value in tags.items():
            slice2d.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(slice2d)


@pytest.mark.parametrize("extension", list(FORMAT_TOLERANCE))
def test_saveAndLoadRoundTrip(scene, makeImage, tmp_path, extension):
    image = makeImage(np.int16, leftHanded=True)
    node = imageToVolumeNode(image, scene, "case")
    written = saveNode(node, tmp_path / f"case{extension}")
    assert written == tmp_path / f"case{extension}" and written.is_file()
    loaded = loadVolume(written, scene)
    assert loaded.GetName() == "case" and loaded is not node
    back = volumeNodeToImage(loaded)
    assert back.GetPixelID() == image.GetPixelID()
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))
    assert gridDifferences(gridOf(image), gridOf(back), FORMAT_TOLERANCE[extension]) == []
    assert not list(tmp_path.glob(".*partial"))


def test_loadVolumeKeepsTheFilesVoxelOrder(scene, makeImage, tmp_path):
    """A left-handed file is not flipped to right-handed: same array as SimpleITK reads."""
    image = makeImage(np.float32, leftHanded=True)
    path = tmp_path / "leftHanded.nrrd"
    sitk.WriteImage(image, str(path))
    back = volumeNodeToImage(loadVolume(path, scene, name="given"))
    fromFile = sitk.ReadImage(str(path))
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(fromFile))
    assert gridDifferences(gridOf(fromFile), gridOf(back), 1e-12) == []
    assert np.linalg.det(np.array(back.GetDirection()).reshape(3, 3)) < 0


def test_loadDicomSeriesFolder(scene, makeImage, tmp_path):
    image = makeImage(np.int16, leftHanded=False, size=(8, 7, 6))
    writeDicomSeries(image, tmp_path / "series", "1.2.826.0.1.3680043.8.498.2")
    node = loadVolume(tmp_path / "series", scene)
    assert node.GetName() == "series"
    back = volumeNodeToImage(node)
    assert np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))
    assert gridDifferences(gridOf(image), gridOf(back), 1e-4) == []


def test_dicomFolderWithoutOrWithSeveralSeries(scene, makeImage, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No DICOM series found"):
        loadVolume(tmp_path / "empty", scene)
    image = makeImage(np.int16, leftHanded=False, size=(4, 4, 3))
    writeDicomSeries(image, tmp_path / "two", "1.2.826.0.1.3680043.8.498.3")
    writeDicomSeries(image, tmp_path / "other", "1.2.826.0.1.3680043.8.498.4")
    for path in (tmp_path / "other").iterdir():
        path.rename(tmp_path / "two" / f"other{path.name}")
    with pytest.raises(InputError, match="holds 2 DICOM series.*own folder"):
        loadVolume(tmp_path / "two", scene)


def test_missingFile(scene, tmp_path):
    missing = tmp_path / "nowhere.nrrd"
    with pytest.raises(InputError, match="not found") as raised:
        loadVolume(missing, scene)
    assert str(missing) in str(raised.value)


def test_corruptFilesNameTheFileAndTheReadersComplaint(scene, makeImage, tmp_path):
    badHeader = tmp_path / "badHeader.nrrd"
    badHeader.write_text("NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10 10\nencoding: raw\n\n")
    with pytest.raises(InputError, match="endian") as raised:
        loadVolume(badHeader, scene)
    assert str(badHeader) in str(raised.value)

    notAnImage = tmp_path / "garbage.nii.gz"
    notAnImage.write_bytes(b"this is not an image")
    with pytest.raises(InputError, match="garbage.nii.gz.*ImageIO"):
        loadVolume(notAnImage, scene)

    truncated = tmp_path / "truncated.nrrd"
    sitk.WriteImage(makeImage(np.int16), str(truncated), useCompression=False)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(InputError, match="truncated.nrrd: .*fread got only"):
        loadVolume(truncated, scene)
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 0
    assert scene.GetNumberOfNodesByClass("vtkMRMLVolumeArchetypeStorageNode") == 0


def test_fourDAndVectorFilesAreGeometryErrors(scene, tmp_path):
    fourD = tmp_path / "dwi.nrrd"
    sitk.WriteImage(sitk.Image([4, 4, 4, 5], sitk.sitkFloat32), str(fourD))
    with pytest.raises(GeometryError, match="4D image.*3D scalar volume.*Split"):
        loadVolume(fourD, scene)
    vector = tmp_path / "rgb.nii.gz"
    sitk.WriteImage(sitk.Image([4, 4, 4], sitk.sitkVectorUInt8, 3), str(vector))
    with pytest.raises(GeometryError, match="3 components.*VectorIndexSelectionCast"):
        loadVolume(vector, scene)


def test_unsupportedExtensionListsTheSupportedOnes(scene, makeImage, tmp_path):
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG")
    with pytest.raises(InputError, match=r"'\.png' is not supported.*\.nrrd.*\.nii\.gz.*\.mha"):
        loadVolume(picture, scene)
    node = imageToVolumeNode(makeImage(), scene, "case")
    with pytest.raises(InputError, match=r"\.vtk.*Supported extensions: \.nrrd"):
        saveNode(node, tmp_path / "case.vtk")
    with pytest.raises(InputError, match="saveNode writes scalar volumes"):
        saveNode(scene.AddNewNodeByClass("vtkMRMLModelNode", "model"), tmp_path / "model.nrrd")


def test_overwriteIsRefusedUnlessAsked(scene, makeImage, tmp_path):
    first = imageToVolumeNode(makeImage(seed=1), scene, "first")
    second = imageToVolumeNode(makeImage(seed=2), scene, "second")
    path = saveNode(first, tmp_path / "case.nrrd")
    before = path.read_bytes()
    with pytest.raises(InputError, match="Refusing to overwrite.*overwrite=True"):
        saveNode(second, path)
    assert path.read_bytes() == before
    saveNode(second, path, overwrite=True)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), sitk.GetArrayFromImage(makeImage(seed=2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.nrrd"]


def test_refusedCompanionFileLeavesNothingBehind(scene, makeImage, tmp_path):
    """.mhd writes a companion data file; if that one exists the whole write is refused."""
    node = imageToVolumeNode(makeImage(), scene, "case")
    (tmp_path / "case.zraw").write_bytes(b"someone else's data")
    with pytest.raises(InputError, match="case.zraw"):
        saveNode(node, tmp_path / "case.mhd")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.zraw"]


def test_failedWriteLeavesNoHalfWrittenFile(tmp_path):
    target = tmp_path / "result.nrrd"
    with pytest.raises(RuntimeError, match="writer crashed"):
        with atomicOutput(target, overwrite=False) as staged:
            staged.write_bytes(b"half a volume")
            raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []


def test_savingAVolumeWithoutVoxelsIsRefused(scene, tmp_path):
    empty = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="no voxels"):
        saveNode(empty, tmp_path / "empty.nrrd")
    assert list(tmp_path.iterdir()) == []
