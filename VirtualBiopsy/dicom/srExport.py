"""Export volumes and radiomics features as a TID 1500 Comprehensive 3D SR (highdicom) that refers to a SEG.

One measurement group per segment: a tracking identifier (the segment's label) and UID, the referenced segment of
the SEG, the source series, the finding type (the segment's property type), the volume (from the SEG's mask, in
ml) and every finite feature of the segment's row, coded by :mod:`.featureCodes`. Undefined (NaN, empty) features
are left out: TID 1500 holds numbers only. Values are stored as DS (16 characters) and, for floats, as FD
(Floating Point Value, exact); :func:`~.srImport.readMeasurements` reads the FD.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.featureCodes import MILLILITER, VOLUME, featureCode, featureUnit
from VirtualBiopsy.dicom.referenceSeries import ReferenceSeries, readReferenceSeries
from VirtualBiopsy.dicom.segExport import MANUFACTURER, SEG_STORAGE
from VirtualBiopsy.dicom.segImport import readSegmentation
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.files import atomicOutput

#: Procedure reported by modality (SNOMED CT).
PROCEDURES = {"MR": ("113091000", "Magnetic resonance imaging"), "CT": ("77477000", "Computerized axial tomography")}
IMAGING_PROCEDURE = ("363679005", "Imaging procedure")


def exportMeasurements(
    features: Mapping[str, Mapping[str, float]],
    seg: str | pathlib.Path,
    referenceFolder: str | pathlib.Path | ReferenceSeries,
    outPath: str | pathlib.Path,
    *,
    algorithmName: str = "pyradiomics",
    algorithmVersion: str = "unknown",
    seriesNumber: int = 301,
    seriesUid: str | None = None,
    sopInstanceUid: str | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write the measurements of the SEG's segments as a TID 1500 SR.

    :param features: segment label → {pyradiomics feature name → value}; a segment of the SEG without an entry
        gets its volume only.
    :param seg: the DICOM SEG the measurements refer to (written by :func:`~.segExport.exportSegmentation`).
    :param referenceFolder: the source series of the SEG.
    :raises InputError: for a segment label that the SEG does not have, or a feature name that cannot be coded.
    """
    hd = requirePackage("highdicom")
    pydicom = requirePackage("pydicom")
    reference = (
        referenceFolder if isinstance(referenceFolder, ReferenceSeries) else readReferenceSeries(referenceFolder)
    )
    segments = readSegmentation(seg, reference.folder)
    segDataset = pydicom.dcmread(seg, stop_before_pixels=True)
    labels = [segment.name for segment in segments]
    unknown = [name for name in features if name not in labels]
    if unknown:
        raise InputError(
            f"The features name segment(s) {', '.join(map(repr, unknown))} that the SEG {pathlib.Path(seg).name} does "
            f"not have (its segments: {', '.join(map(repr, labels))}); match the features' segment names or labels "
            "to the SEG."
        )
    groups = []
    for segment in segments:
        measurements = [_measurement(hd, VOLUME, _volumeMl(segment.mask), MILLILITER, None)]
        algorithm = hd.sr.AlgorithmIdentification(name=algorithmName, version=algorithmVersion or "unknown")
        for name, value in features.get(segment.name, {}).items():
            if value is None or not math.isfinite(float(value)):
                continue
            measurements.append(_measurement(hd, featureCode(name), float(value), featureUnit(name), algorithm))
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=segment.name),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=SEG_STORAGE,
                    sop_instance_uid=str(segDataset.SOPInstanceUID),
                    segment_number=segment.number,
                    source_series=hd.sr.SourceSeriesForSegmentation(reference.seriesUid),
                ),
                finding_type=hd.sr.CodedConcept(*segment.propertyType),
                measurements=measurements,
            )
        )
    procedure = PROCEDURES.get(str(reference.datasets[0].get("Modality", "")), IMAGING_PROCEDURE)
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
                observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                    uid=hd.UID(), name=MANUFACTURER
                ),
            )
        ),
        procedure_reported=hd.sr.CodedConcept(procedure[0], "SCT", procedure[1]),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[segDataset],
        content=report,
        series_number=seriesNumber,
        series_instance_uid=seriesUid or hd.UID(),
        sop_instance_uid=sopInstanceUid or hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description="Virtual Biopsy measurements",
        is_complete=True,
        is_final=True,
        is_verified=False,
    )
    with atomicOutput(outPath, overwrite) as staged:
        sr.save_as(staged, enforce_file_format=True)
    return pathlib.Path(outPath)


def _measurement(hd, concept, value: float, unit, algorithm):
    return hd.sr.Measurement(
        name=hd.sr.CodedConcept(*concept),
        value=value,
        unit=hd.sr.CodedConcept(*unit),
        algorithm_id=algorithm,
    )


def _volumeMl(mask: sitk.Image) -> float:
    """Voxels (or summed probabilities) × voxel volume, in ml."""
    voxel = float(np.prod(mask.GetSpacing()))
    return float(np.sum(sitk.GetArrayViewFromImage(mask), dtype=np.float64)) * voxel / 1000.0
