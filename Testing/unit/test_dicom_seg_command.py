"""``virtual-biopsy dicom export`` (its run function): SEG, SR and maps from files, .seg.nrrd names, choices."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from dicomExportCases import DIRECTIONS, labelmap, writeReference  # noqa: E402

from VirtualBiopsy.commands import dicomExport  # noqa: E402
from VirtualBiopsy.dicom.parametricMaps import readParametricMap  # noqa: E402
from VirtualBiopsy.dicom.segImport import readSegmentation  # noqa: E402
from VirtualBiopsy.dicom.srImport import readMeasurements  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402


def export(*argv) -> int:
    parser = argparse.ArgumentParser()
    dicomExport.addParser(parser.add_subparsers(dest="action"))
    arguments = parser.parse_args(["export", *map(str, argv)])
    return arguments.run(arguments)


def _writeFeatures(path, rows):
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_labelmap_features_and_map_become_seg_sr_and_parametric_map(tmp_path, capsys):
    image = writeReference(tmp_path / "ref", DIRECTIONS["oblique"])
    sitk.WriteImage(labelmap(image), str(tmp_path / "labels.nrrd"))
    adc = sitk.Cast(image, sitk.sitkFloat32) * 1.5
    sitk.WriteImage(adc, str(tmp_path / "adc.nrrd"))
    rows = [
        {"patient": "case-1", "label": 2, "original_firstorder_Mean": 0.1 + 0.2, "original_glcm_Idmn": ""},
        {"patient": "case-1", "label": 1, "original_firstorder_Mean": 1 / 7, "original_glcm_Idmn": 0.25},
    ]
    _writeFeatures(tmp_path / "features.csv", rows)
    code = export("--segmentation", tmp_path / "labels.nrrd", "--reference", tmp_path / "ref", "--features",
                  tmp_path / "features.csv", "--map", "ADC=" + str(tmp_path / "adc.nrrd"), "--model-id", "net",
                  "--model-version", "2", "--out", tmp_path / "out")  # fmt: skip
    assert code == 0
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["ADC.dcm", "seg.dcm", "sr.dcm"]
    printed = capsys.readouterr().out
    assert "seg.dcm, sr.dcm, ADC.dcm" in printed and "NHS-943" not in printed and "DOE" not in printed
    segments = readSegmentation(tmp_path / "out" / "seg.dcm", tmp_path / "ref")
    assert [(s.name, s.algorithmType, s.modelId, s.modelVersion) for s in segments] == [
        ("Segment_1", "AUTOMATIC", "net", "2"), ("Segment_2", "AUTOMATIC", "net", "2")]  # fmt: skip
    groups = {group.trackingIdentifier: group.values for group in readMeasurements(tmp_path / "out" / "sr.dcm")}
    assert groups["Segment_1"]["original_firstorder_Mean"] == 1 / 7
    assert groups["Segment_1"]["original_glcm_Idmn"] == 0.25
    assert groups["Segment_2"]["original_firstorder_Mean"] == 0.1 + 0.2
    assert "original_glcm_Idmn" not in groups["Segment_2"]  # an empty cell: undefined
    decoded = readParametricMap(tmp_path / "out" / "ADC.dcm", tmp_path / "ref")
    assert np.array_equal(sitk.GetArrayFromImage(decoded.image), sitk.GetArrayFromImage(adc))


def test_seg_nrrd_segment_names_and_manual_segments(tmp_path):
    image = writeReference(tmp_path / "ref")
    segmentation = labelmap(image)
    for index, (name, label) in enumerate((("Enhancing tumour", 1), ("Oedema", 2), ("Never painted", 3))):
        segmentation.SetMetaData(f"Segment{index}_Name", name)
        segmentation.SetMetaData(f"Segment{index}_LabelValue", str(label))
        segmentation.SetMetaData(f"Segment{index}_Layer", "0")
    sitk.WriteImage(segmentation, str(tmp_path / "tumour.seg.nrrd"))
    _writeFeatures(tmp_path / "f.csv", [{"segment": "Oedema", "original_firstorder_Mean": 3.5},
                                         {"segment": "Enhancing tumour", "original_firstorder_Mean": 4.5}])  # fmt: skip
    assert export("--segmentation", tmp_path / "tumour.seg.nrrd", "--reference", tmp_path / "ref", "--manual",
                  "--features", tmp_path / "f.csv", "--out", tmp_path / "out") == 0  # fmt: skip
    segments = readSegmentation(tmp_path / "out" / "seg.dcm")
    assert [(s.name, s.algorithmType) for s in segments] == [("Enhancing tumour", "MANUAL"), ("Oedema", "MANUAL")]
    groups = readMeasurements(tmp_path / "out" / "sr.dcm")
    assert [(g.trackingIdentifier, g.values["original_firstorder_Mean"]) for g in groups] == [
        ("Enhancing tumour", 4.5), ("Oedema", 3.5)]  # fmt: skip


def test_how_the_segmentation_was_made_must_be_said(tmp_path):
    image = writeReference(tmp_path / "ref")
    sitk.WriteImage(labelmap(image), str(tmp_path / "labels.nrrd"))
    with pytest.raises(InputError, match="--model-id ID --model-version V .* or --manual"):
        export("--segmentation", tmp_path / "labels.nrrd", "--reference", tmp_path / "ref", "--out", tmp_path / "o")
    with pytest.raises(InputError, match="inside the reference series folder"):
        export("--segmentation", tmp_path / "labels.nrrd", "--reference", tmp_path / "ref", "--manual",
               "--out", tmp_path / "ref" / "out")  # fmt: skip
    with pytest.raises(InputError, match="--map 'T1=x.nrrd' must be QUANTITY"):
        export("--segmentation", tmp_path / "labels.nrrd", "--reference", tmp_path / "ref", "--manual",
               "--map", "T1=x.nrrd", "--out", tmp_path / "o")  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_overlapping_segments_on_two_layers_of_a_seg_nrrd(tmp_path):
    image = writeReference(tmp_path / "ref")
    array = sitk.GetArrayFromImage(labelmap(image))
    tumour = sitk.GetImageFromArray((array == 1).astype(np.uint8))
    whole = sitk.GetImageFromArray(((array == 1) | (array == 2)).astype(np.uint8) * 5)  # overlaps the tumour
    layers = sitk.Compose(tumour, whole)
    layers.CopyInformation(image)
    for index, (name, label, layer) in enumerate((("Tumour", 1, 0), ("Whole lesion", 5, 1))):
        layers.SetMetaData(f"Segment{index}_Name", name)
        layers.SetMetaData(f"Segment{index}_LabelValue", str(label))
        layers.SetMetaData(f"Segment{index}_Layer", str(layer))
    sitk.WriteImage(layers, str(tmp_path / "layers.seg.nrrd"))
    assert export("--segmentation", tmp_path / "layers.seg.nrrd", "--reference", tmp_path / "ref", "--manual",
                  "--out", tmp_path / "out") == 0  # fmt: skip
    segments = readSegmentation(tmp_path / "out" / "seg.dcm", tmp_path / "ref")
    assert [segment.name for segment in segments] == ["Tumour", "Whole lesion"]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(segments[0].mask), array == 1)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(segments[1].mask), array > 0)
