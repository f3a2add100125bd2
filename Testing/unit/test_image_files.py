"""Image files are checked against their size before a voxel is read: truncated NIfTI files and headers that
declare more data than their file can hold are refused; every complete file reads as SimpleITK reads it."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import checkImageFile, readImageFile

VOXELS = np.random.default_rng(0).random((20, 30, 40)).astype(np.float32)


@pytest.mark.parametrize("name", ["a.nii.gz", "a.nii", "a.nrrd", "a.mha", "a.nhdr", "a.mhd"])
@pytest.mark.parametrize("compress", [True, False])
def test_complete_files_read_as_simpleitk_reads_them(tmp_path, name, compress):
    sitk.WriteImage(sitk.GetImageFromArray(VOXELS), str(tmp_path / name), useCompression=compress)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(readImageFile(tmp_path / name, "image")), VOXELS)


@pytest.mark.parametrize("name", ["s.nii", "s.nii.gz"])
def test_a_scaled_integer_nifti_is_not_mistaken_for_a_short_file(tmp_path, name):
    nibabel = pytest.importorskip("nibabel", reason="nibabel writes the scaled NIfTI (installed with the ai extra)")
    stored = np.arange(1000).astype(np.int8).reshape(10, 10, 10)
    image = nibabel.Nifti1Image(stored, np.eye(4))
    image.header.set_slope_inter(2.5, 1.0)
    nibabel.save(image, str(tmp_path / name))
    read = sitk.GetArrayFromImage(readImageFile(tmp_path / name, "image"))  # float: stored × 2.5 + 1
    np.testing.assert_allclose(read, stored.transpose(2, 1, 0) * 2.5 + 1.0)


@pytest.mark.parametrize("name", ["a.nii", "a.nii.gz"])
def test_a_truncated_nifti_is_refused(tmp_path, name):
    sitk.WriteImage(sitk.GetImageFromArray(VOXELS), str(tmp_path / name))
    data = (tmp_path / name).read_bytes()
    (tmp_path / f"cut-{name}").write_bytes(data[: len(data) // 2])
    assert sitk.ReadImage(str(tmp_path / f"cut-{name}")).GetSize() == (40, 30, 20)  # SimpleITK alone reads it
    with pytest.raises(InputError, match="is damaged: .*Copy it again from its source"):
        readImageFile(tmp_path / f"cut-{name}", "image")


def test_a_gzip_whose_trailer_is_wrong_but_stream_is_complete_is_accepted(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(VOXELS), str(tmp_path / "a.nii.gz"))
    data = bytearray((tmp_path / "a.nii.gz").read_bytes())
    twoMembers = bytes(data) + gzip.compress(b"")  # a second, empty gzip member: the last trailer records 0
    (tmp_path / "b.nii.gz").write_bytes(twoMembers)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(readImageFile(tmp_path / "b.nii.gz", "image")), VOXELS)


def test_a_header_declaring_a_terabyte_in_a_small_file_is_refused_before_any_allocation(tmp_path):
    header = "NRRD0004\ntype: float\ndimension: 3\nsizes: 10000 10000 10000\nendian: little\nencoding: gzip\n\n"
    (tmp_path / "bomb.nrrd").write_bytes(header.encode() + gzip.compress(b"\0" * 1000))
    with pytest.raises(InputError, match=r"declares 1,000,000,000,000 voxels \(3725\.3 GB of data\) but the file"):
        checkImageFile(tmp_path / "bomb.nrrd", "image")


def test_missing_and_unreadable_files_say_so(tmp_path):
    with pytest.raises(InputError, match="mask file .* was not found"):
        readImageFile(tmp_path / "absent.nrrd", "mask")
    (tmp_path / "table.nrrd").write_text("patient,age\nP1,60\n")
    with pytest.raises(InputError, match="Cannot read the mask file .*; give a volume SimpleITK reads"):
        readImageFile(tmp_path / "table.nrrd", "mask")
