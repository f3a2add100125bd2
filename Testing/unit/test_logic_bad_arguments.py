"""The logics called from the console with the wrong kind of argument raise our InputError, not AttributeError, and
an impossible output path is refused before any work."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize import HarmonizationConfig, HarmonizationLogic
from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.segment import SegmentationLogic


def test_harmonization_refuses_settings_and_volumes_of_the_wrong_kind(scene):
    with pytest.raises(InputError, match="settings are NoneType; pass a HarmonizationConfig"):
        HarmonizationLogic(scene).run(None, None)
    with pytest.raises(InputError, match="Expected a scalar volume node, got str"):
        HarmonizationLogic(scene).run("t1c.nrrd", HarmonizationConfig())


def test_segmentation_refuses_a_missing_volume(scene):
    with pytest.raises(InputError, match="Expected a scalar volume node, got None"):
        SegmentationLogic(scene).run(None)


def test_a_nyul_model_under_a_file_is_refused_before_the_fit(scene, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    image = sitk.GetImageFromArray(np.random.default_rng(0).random((8, 8, 8)).astype(np.float32))
    node = imageToVolumeNode(image, scene, "T2")
    monkeypatch.setattr("VirtualBiopsy.harmonize.logic.fitNyulLandmarks", pytest.fail)
    with pytest.raises(InputError, match="is a file"):
        HarmonizationLogic(scene).fitNyulModel([node], str(tmp_path / "file" / "model.json"))
