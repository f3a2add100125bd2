"""DICOM MR series of the virtual cohort: test data with a known answer for :mod:`VirtualBiopsy.dicom`.

:func:`writeSeries` writes one volume (or several, e.g. the b-values of a DWI) as
a classic single-frame MR series whose geometry is exactly the image's (LPS):
``ImagePositionPatient`` of slice ``k`` is ``origin + k * spacing[2] * direction[:, 2]``,
``ImageOrientationPatient`` the first two direction columns, so oblique and
left-handed grids round-trip (a reader sorts the slices along the normal
``row × column``, which turns a left-handed grid into the same voxels in space,
flipped along ``k``). :func:`writeHospitalExport` writes a nested hospital-like
export of virtual patients with planted identifiers, planted curation problems and
stray files, and returns the ground truth.

The writer lives with the virtual cohort (not in :mod:`VirtualBiopsy.dicom`) so
that the reading side is tested against an independent implementation.
pydicom is imported only when a function runs.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, requirePackage

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
#: The planted identifiers of patient 0 (name, birth date, accession number, id); later patients get a suffix.
PLANTED_IDENTIFIERS = ("DOE^JANE", "19230101", "ACC-7731", "NHS-943-476-5919")
#: The b-values of the DWI series (s/mm²) and the ADC (mm²/s) that makes their signal.
B_VALUES = (0, 500, 1000)
DWI_ADC = 0.0009


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The acquisition attributes of one series kind."""

    description: str
    repetitionTime: float
    echoTime: float
    flipAngle: float
    scanningSequence: str
    sequenceVariant: str
    inversionTime: float | None = None
    contrastAgent: str | None = None
    imageType: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "M", "NONE")


#: Plausible protocols by planted sequence class.
PROTOCOLS = {
    "T1": Protocol("AX T1 SE PRE", 550.0, 12.0, 90.0, "SE", "NONE"),
    "T1c": Protocol("AX T1 POST GAD", 550.0, 12.0, 90.0, "SE", "NONE", contrastAgent="GADOBUTROL"),
    "T2": Protocol("AX T2 TSE", 4200.0, 100.0, 150.0, "SE", "SK"),
    "FLAIR": Protocol("AX T2 FLAIR", 9000.0, 120.0, 150.0, "SE\\IR", "SK\\SP", inversionTime=2500.0),
    "DWI": Protocol("AX DWI B0 B500 B1000", 5200.0, 85.0, 90.0, "EP", "SK\\SP"),
    "ADC": Protocol("AX ADC", 5200.0, 85.0, 90.0, "EP", "SK\\SP", imageType=("DERIVED", "PRIMARY", "ADC", "ADC")),
    "localizer": Protocol(
        "LOCALIZER 3-PLANE", 8.6, 4.0, 20.0, "GR", "SP", imageType=("ORIGINAL", "PRIMARY", "LOCALIZER")
    ),
}


@dataclasses.dataclass
class SeriesHeader:
    """What the files of one series share: identifiers, UIDs, protocol and site."""

    patientName: str
    patientId: str
    birthDate: str
    accession: str
    studyUid: str
    seriesUid: str
    frameOfReferenceUid: str
    seriesNumber: int
    protocol: Protocol
    fieldStrength: float = 3.0
    studyDate: str = "20240115"
    #: Overrides of the protocol (e.g. a contrast agent on a pre-contrast description, another slice thickness).
    extra: dict = dataclasses.field(default_factory=dict)


def uid(*parts: object) -> str:
    """A deterministic UID from ``parts`` (pydicom's ``generate_uid`` with them as entropy)."""
    pydicom = requirePackage("pydicom")
    return str(pydicom.uid.generate_uid(entropy_srcs=[str(part) for part in parts]))


def writeSeries(
    volumes: Sequence[sitk.Image],
    folder: pathlib.Path,
    header: SeriesHeader,
    *,
    perVolume: Sequence[dict] | None = None,
    dropSlice: int | None = None,
    fileName: str = "IM{index:05d}",
) -> list[pathlib.Path]:
    """Write ``volumes`` (one grid, Int16) as one MR series in ``folder``, one file per slice.

    :param perVolume: attributes of each volume's slices (e.g. ``{"DiffusionBValue": 500}``).
    :param dropSlice: a slice index left out of every volume (a "missing slice" series).
    :param fileName: file name pattern (``index`` counts the files written).
    :returns: the files written.
    :raises InputError: for volumes on different grids or not 3-D.
    """
    folder.mkdir(parents=True, exist_ok=True)
    first = volumes[0]
    for volume in volumes:
        if volume.GetDimension() != 3 or volume.GetSize() != first.GetSize():
            raise InputError(
                f"DICOM writer: the volumes of one series must be 3-D on one grid; got {volume.GetSize()}."
            )
    direction = np.array(first.GetDirection()).reshape(3, 3)
    spacing, origin = first.GetSpacing(), np.array(first.GetOrigin())
    paths = []
    instance = 0
    for volumeIndex, volume in enumerate(volumes):
        array = sitk.GetArrayFromImage(volume).astype(np.int16)
        extra = (perVolume or [{}] * len(volumes))[volumeIndex]
        for k in range(array.shape[0]):
            if k == dropSlice:
                continue
            position = origin + k * spacing[2] * direction[:, 2]
            instance += 1
            path = folder / fileName.format(index=instance)
            _sliceDataset(array[k], position, direction, spacing, header, instance, extra).save_as(
                path, enforce_file_format=True
            )
            paths.append(path)
    return paths


def writeLocalizer(image: sitk.Image, folder: pathlib.Path, header: SeriesHeader) -> list[pathlib.Path]:
    """Write a 3-plane localizer: the middle axial, coronal and sagittal slices of ``image`` (axis-aligned grids)."""
    array = sitk.GetArrayFromImage(image).astype(np.int16)
    spacing, origin = image.GetSpacing(), np.array(image.GetOrigin())
    middle = [n // 2 for n in image.GetSize()]
    x, y, z = np.eye(3)
    planes = [  # (pixels, row direction, column direction, position, pixel spacing (row, column) axes)
        (array[middle[2]], x, y, origin + middle[2] * spacing[2] * z, (0, 1)),
        (array[:, middle[1], :], x, z, origin + middle[1] * spacing[1] * y, (0, 2)),
        (array[:, :, middle[0]], y, z, origin + middle[0] * spacing[0] * x, (1, 2)),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (pixels, row, column, position, axes) in enumerate(planes, start=1):
        direction = np.column_stack([row, column, np.cross(row, column)])
        planeSpacing = (spacing[axes[0]], spacing[axes[1]], spacing[2])
        path = folder / f"LOC{index}"
        _sliceDataset(pixels, position, direction, planeSpacing, header, index, {}).save_as(
            path, enforce_file_format=True
        )
        paths.append(path)
    return paths


def _sliceDataset(pixels, position, direction, spacing, header: SeriesHeader, instance: int, extra: dict):
    """One single-frame MR image: patient, study, series, geometry, protocol and pixels."""
    pydicom = requirePackage("pydicom")
    protocol = header.protocol
    sopUid = uid(header.seriesUid, instance)
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = sopUid
    meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    ds = pydicom.dataset.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MR_IMAGE_STORAGE, sopUid
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = header.patientName, header.patientId, header.birthDate
    ds.PatientSex = "O"
    ds.AccessionNumber = header.accession
    ds.StudyInstanceUID, ds.SeriesInstanceUID = header.studyUid, header.seriesUid
    ds.FrameOfReferenceUID = header.frameOfReferenceUid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = header.studyDate
    ds.StudyTime = ds.SeriesTime = "093000"
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = "1", header.seriesNumber, instance, 1
    ds.Modality, ds.Manufacturer = "MR", "VirtualBiopsy"
    ds.ReferringPhysicianName = ds.PositionReferenceIndicator = ds.ScanOptions = ""
    ds.BodyPartExamined, ds.PatientPosition, ds.MRAcquisitionType, ds.EchoTrainLength = "BRAIN", "HFS", "2D", 1
    ds.SeriesDescription = protocol.description
    ds.ImageType = list(protocol.imageType)
    ds.MagneticFieldStrength = header.fieldStrength
    ds.RepetitionTime, ds.EchoTime, ds.FlipAngle = protocol.repetitionTime, protocol.echoTime, protocol.flipAngle
    ds.EchoNumbers = 1
    ds.ScanningSequence, ds.SequenceVariant = (
        protocol.scanningSequence.split("\\"),
        protocol.sequenceVariant.split("\\"),
    )
    if protocol.inversionTime is not None:
        ds.InversionTime = protocol.inversionTime
    if protocol.contrastAgent is not None:
        ds.ContrastBolusAgent = protocol.contrastAgent
    ds.ImagePositionPatient = [decimalString(value) for value in position]
    ds.ImageOrientationPatient = [decimalString(value) for value in (*direction[:, 0], *direction[:, 1])]
    ds.PixelSpacing = [decimalString(spacing[1]), decimalString(spacing[0])]
    ds.SliceThickness = ds.SpacingBetweenSlices = decimalString(spacing[2])
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, 0, "US"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 1
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()
    for keyword, value in {**header.extra, **extra}.items():
        setattr(ds, keyword, value)
    return ds


def decimalString(value: float) -> str:
    """A DICOM decimal string (at most 16 characters) that parses back to ``value`` as closely as it allows."""
    for digits in range(16, 5, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.6g}"


def obliqueDirection(degrees: float) -> tuple[float, ...]:
    """A right-handed direction tilted by ``degrees`` about the left-right axis (then 5° about the vertical)."""
    a, b = math.radians(degrees), math.radians(5.0)
    tilt = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    turn = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    return tuple(float(value) for value in (turn @ tilt).ravel())
