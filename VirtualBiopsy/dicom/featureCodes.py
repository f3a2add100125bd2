"""How measurements are coded in our TID 1500 SR: the volume, and pyradiomics features by IBSI code or private code.

- The segment's volume: SNOMED CT 118565006 "Volume", in UCUM ``ml``.
- A pyradiomics feature of the original image (``original_<class>_<feature>``) whose definition matches an IBSI
  feature: coding scheme ``IBSI`` (the designator pyradiomics' ``pyradiomics-dcm`` and dcmqi use), code the IBSI
  identifier, meaning the IBSI name (:data:`IBSI_CODES`, from pyradiomics' ``labs/pyradiomics-dcm/resources/
  featuresDict_IBSIv7.tsv``, with its class errors fixed: the GLSZM zone-emphasis rows and ``Id``/``Idn``/
  ``Idm``/``Idmn``). Features that differ from IBSI (pyradiomics' Kurtosis is not the excess kurtosis) or have no
  IBSI counterpart, and features of filtered images or sequence-prefixed names, get a private code.
- Private codes: scheme ``99VBIO`` (:data:`PRIVATE_SCHEME`), code ``F`` + the first 15 hex digits (upper case) of
  the SHA-256 of the pyradiomics name, meaning the pyradiomics name itself (at most 64 characters). The code is
  stable: the same name always gets the same code.
- Units (UCUM): ``mm3`` for volumes, ``mm2`` for surface areas, ``mm`` for lengths, ``/mm`` for the surface to
  volume ratio; every other feature ``1`` ("no units": intensity units are not known).
"""

from __future__ import annotations

import hashlib

from VirtualBiopsy.errors import InputError

PRIVATE_SCHEME = "99VBIO"
IBSI_SCHEME = "IBSI"
#: (value, scheme, meaning) of the volume concept and its unit.
VOLUME = ("118565006", "SCT", "Volume")
MILLILITER = ("ml", "UCUM", "milliliter")
NO_UNITS = ("1", "UCUM", "no units")
#: pyradiomics ``<class>_<feature>`` → (IBSI code, IBSI meaning).
IBSI_CODES = {
    "shape_MeshVolume": ("RNU0", "Volume"),
    "shape_VoxelVolume": ("YEKZ", "Approximate volume"),
    "shape_SurfaceArea": ("C0JK", "Surface area"),
    "shape_SurfaceVolumeRatio": ("2PR5", "Surface to volume ratio"),
    "shape_Sphericity": ("QCFX", "Sphericity"),
    "shape_Maximum3DDiameter": ("L0JK", "Maximum 3D diameter"),
    "shape_MajorAxisLength": ("TDIC", "Major axis length"),
    "shape_MinorAxisLength": ("P9VJ", "Minor axis length"),
    "shape_LeastAxisLength": ("7J51", "Least axis length"),
    "shape_Elongation": ("Q3CK", "Elongation"),
    "shape_Flatness": ("N17B", "Flatness"),
    "firstorder_Mean": ("Q4LE", "Mean"),
    "firstorder_Variance": ("ECT3", "Variance"),
    "firstorder_Skewness": ("KE2A", "Skewness"),
    "firstorder_Median": ("Y12H", "Median"),
    "firstorder_Minimum": ("1GSF", "Minimum grey level"),
    "firstorder_10Percentile": ("QG58", "10th percentile"),
    "firstorder_90Percentile": ("8DWT", "90th percentile"),
    "firstorder_Maximum": ("84IY", "Maximum grey level"),
    "firstorder_InterquartileRange": ("SALO", "Interquartile range"),
    "firstorder_Range": ("2OJQ", "Range"),
    "firstorder_MeanAbsoluteDeviation": ("4FUA", "Mean absolute deviation"),
    "firstorder_RobustMeanAbsoluteDeviation": ("1128", "Robust mean absolute deviation"),
    "firstorder_Energy": ("N8CA", "Energy"),
    "firstorder_RootMeanSquared": ("5ZWQ", "Root mean square"),
    "firstorder_Entropy": ("TLU2", "Intensity histogram entropy"),
    "firstorder_Uniformity": ("BJ5W", "Intensity histogram uniformity"),
    "glcm_MaximumProbability": ("GYBY", "Joint maximum"),
    "glcm_JointAverage": ("60VM", "Joint average"),
    "glcm_SumSquares": ("UR99", "Joint variance"),
    "glcm_JointEntropy": ("TU9B", "Joint entropy"),
    "glcm_DifferenceAverage": ("TF7R", "Difference average"),
    "glcm_DifferenceVariance": ("D3YU", "Difference variance"),
    "glcm_DifferenceEntropy": ("NTRS", "Difference entropy"),
    "glcm_SumAverage": ("ZGXS", "Sum average"),
    "glcm_SumEntropy": ("P6QZ", "Sum entropy"),
    "glcm_JointEnergy": ("8ZQL", "Angular second moment"),
    "glcm_Contrast": ("ACUI", "Contrast"),
    "glcm_Id": ("IB1Z", "Inverse difference"),
    "glcm_Idn": ("NDRX", "Normalised inverse difference"),
    "glcm_Idm": ("WF0Z", "Inverse difference moment"),
    "glcm_Idmn": ("1QCO", "Normalised inverse difference moment"),
    "glcm_InverseVariance": ("E8JP", "Inverse variance"),
    "glcm_Correlation": ("NI2N", "Correlation"),
    "glcm_Autocorrelation": ("QWB0", "Autocorrelation"),
    "glcm_ClusterTendency": ("DG8W", "Cluster tendency"),
    "glcm_ClusterShade": ("7NFM", "Cluster shade"),
    "glcm_ClusterProminence": ("AE86", "Cluster prominence"),
    "glcm_Imc1": ("R8DG", "First measure of information correlation"),
    "glcm_Imc2": ("JN9H", "Second measure of information correlation"),
    "glrlm_ShortRunEmphasis": ("22OV", "Short runs emphasis"),
    "glrlm_LongRunEmphasis": ("W4KF", "Long runs emphasis"),
    "glrlm_LowGrayLevelRunEmphasis": ("V3SW", "Low grey level run emphasis"),
    "glrlm_HighGrayLevelRunEmphasis": ("G3QZ", "High grey level run emphasis"),
    "glrlm_ShortRunLowGrayLevelEmphasis": ("HTZT", "Short run low grey level emphasis"),
    "glrlm_ShortRunHighGrayLevelEmphasis": ("GD3A", "Short run high grey level emphasis"),
    "glrlm_LongRunLowGrayLevelEmphasis": ("IVPO", "Long run low grey level emphasis"),
    "glrlm_LongRunHighGrayLevelEmphasis": ("3KUM", "Long run high grey level emphasis"),
    "glrlm_GrayLevelNonUniformity": ("R5YN", "Grey level non-uniformity"),
    "glrlm_GrayLevelNonUniformityNormalized": ("OVBL", "Normalised grey level non-uniformity"),
    "glrlm_RunLengthNonUniformity": ("W92Y", "Run length non-uniformity"),
    "glrlm_RunLengthNonUniformityNormalized": ("IC23", "Normalised run length non-uniformity"),
    "glrlm_RunPercentage": ("9ZK5", "Run percentage"),
    "glrlm_GrayLevelVariance": ("8CE5", "Grey level variance"),
    "glrlm_RunVariance": ("SXLW", "Run length variance"),
    "glrlm_RunEntropy": ("HJ9O", "Run entropy"),
    "glszm_SmallAreaEmphasis": ("5QRC", "Small zone emphasis"),
    "glszm_LargeAreaEmphasis": ("48P8", "Large zone emphasis"),
    "glszm_LowGrayLevelZoneEmphasis": ("XMSY", "Low grey level zone emphasis"),
    "glszm_HighGrayLevelZoneEmphasis": ("5GN9", "High grey level zone emphasis"),
    "glszm_SmallAreaLowGrayLevelEmphasis": ("5RAI", "Small zone low grey level emphasis"),
    "glszm_SmallAreaHighGrayLevelEmphasis": ("HW1V", "Small zone high grey level emphasis"),
    "glszm_LargeAreaLowGrayLevelEmphasis": ("YH51", "Large zone low grey level emphasis"),
    "glszm_LargeAreaHighGrayLevelEmphasis": ("J17V", "Large zone high grey level emphasis"),
    "glszm_GrayLevelNonUniformity": ("JNSA", "Grey level non-uniformity"),
    "glszm_GrayLevelNonUniformityNormalized": ("Y1RO", "Normalised grey level non-uniformity"),
    "glszm_SizeZoneNonUniformity": ("4JP3", "Zone size non-uniformity"),
    "glszm_SizeZoneNonUniformityNormalized": ("VB3A", "Normalised zone size non-uniformity"),
    "glszm_ZonePercentage": ("P30P", "Zone percentage"),
    "glszm_GrayLevelVariance": ("BYLV", "Grey level variance"),
    "glszm_ZoneVariance": ("3NSA", "Zone size variance"),
    "glszm_ZoneEntropy": ("GU8N", "Zone size entropy"),
    "ngtdm_Coarseness": ("QCDE", "Coarseness"),
    "ngtdm_Contrast": ("65HE", "Contrast"),
    "ngtdm_Busyness": ("NQ30", "Busyness"),
    "ngtdm_Complexity": ("HDEZ", "Complexity"),
    "ngtdm_Strength": ("1X9X", "Strength"),
    "gldm_SmallDependenceEmphasis": ("SODN", "Low dependence emphasis"),
    "gldm_LargeDependenceEmphasis": ("IMOQ", "High dependence emphasis"),
    "gldm_LowGrayLevelEmphasis": ("TL9H", "Low grey level count emphasis"),
    "gldm_HighGrayLevelEmphasis": ("OAE7", "High grey level count emphasis"),
    "gldm_SmallDependenceLowGrayLevelEmphasis": ("EQ3F", "Low dependence low grey level emphasis"),
    "gldm_SmallDependenceHighGrayLevelEmphasis": ("JA6D", "Low dependence high grey level emphasis"),
    "gldm_LargeDependenceLowGrayLevelEmphasis": ("NBZI", "High dependence low grey level emphasis"),
    "gldm_LargeDependenceHighGrayLevelEmphasis": ("9QMG", "High dependence high grey level emphasis"),
    "gldm_GrayLevelNonUniformity": ("FP8K", "Grey level non-uniformity"),
    "gldm_DependenceNonUniformity": ("Z87G", "Dependence count non-uniformity"),
    "gldm_DependenceNonUniformityNormalized": ("OKJI", "Dependence count non-uniformity normalised"),
    "gldm_GrayLevelVariance": ("1PFV", "Grey level variance"),
    "gldm_DependenceVariance": ("DNX2", "Dependence count variance"),
    "gldm_DependenceEntropy": ("FCBV", "Dependence count entropy"),
}
_UNITS = {
    "shape_MeshVolume": ("mm3", "UCUM", "cubic millimeter"),
    "shape_VoxelVolume": ("mm3", "UCUM", "cubic millimeter"),
    "shape_SurfaceArea": ("mm2", "UCUM", "square millimeter"),
    "shape_SurfaceVolumeRatio": ("/mm", "UCUM", "per millimeter"),
    **{
        f"shape_{name}": ("mm", "UCUM", "millimeter")
        for name in (
            "Maximum3DDiameter",
            "Maximum2DDiameterSlice",
            "Maximum2DDiameterColumn",
            "Maximum2DDiameterRow",
            "MajorAxisLength",
            "MinorAxisLength",
            "LeastAxisLength",
        )
    },  # fmt: skip
}
_BY_IBSI = {code: f"original_{key}" for key, (code, _) in IBSI_CODES.items()}


def featureCode(name: str) -> tuple[str, str, str]:
    """(code value, scheme designator, meaning) of the pyradiomics feature ``name``.

    :raises InputError: for a name that has no IBSI code and is longer than 64 characters (DICOM LO).
    """
    prefix, _, key = name.partition("_")
    if prefix == "original" and key in IBSI_CODES:
        code, meaning = IBSI_CODES[key]
        return (code, IBSI_SCHEME, meaning)
    if not name or len(name) > 64:
        raise InputError(
            f"Feature name {name!r} has {len(name)} characters; a privately coded feature keeps its name as the "
            "code meaning, which DICOM limits to 64. Shorten the column name."
        )
    return ("F" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:15].upper(), PRIVATE_SCHEME, name)


def featureUnit(name: str) -> tuple[str, str, str]:
    """(code value, scheme designator, meaning) of the UCUM unit of the pyradiomics feature ``name``."""
    parts = name.split("_")
    key = "_".join(parts[-2:])
    return _UNITS.get(key, NO_UNITS)


def featureName(code: str, scheme: str, meaning: str) -> str | None:
    """The pyradiomics name of a coded measurement, ``"volume_ml"`` for the volume, ``None`` for a code that is
    none of ours."""
    if (code, scheme) == VOLUME[:2]:
        return "volume_ml"
    if scheme == IBSI_SCHEME:
        return _BY_IBSI.get(code)
    if scheme == PRIVATE_SCHEME:
        return meaning
    return None
