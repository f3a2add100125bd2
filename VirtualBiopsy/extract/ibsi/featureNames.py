"""pyradiomics feature names ⇄ IBSI 1 feature names and codes.

102 of pyradiomics' 107 default features have an IBSI 1 counterpart. The other
five have none: ``shape_Maximum2DDiameterSlice/Column/Row``,
``firstorder_TotalEnergy`` (energy times voxel volume) and ``glcm_MCC``.
"""

from __future__ import annotations

from dataclasses import dataclass

MORPHOLOGY = "Morphological features"
STATISTICS = "Intensity-based statistical features"
HISTOGRAM = "Intensity histogram features"
GLCM = "Grey level co-occurrence based features"
GLRLM = "Grey level run length based features"
GLSZM = "Grey level size zone based features"
NGLDM = "Neighbouring grey level dependence based features"
NGTDM = "Neighbourhood grey tone difference based features"


@dataclass(frozen=True)
class FeatureName:
    """One pyradiomics feature and the IBSI feature it computes.

    :ivar pyradiomics: ``<class>_<feature>`` as in ``original_<class>_<feature>``.
    :ivar family: IBSI feature family (the reference table's ``family``).
    :ivar ibsiName: IBSI feature name (the reference table's ``feature``).
    :ivar ibsiCode: IBSI identifier.
    :ivar offset: added to pyradiomics' value to give IBSI's quantity (pyradiomics
        reports kurtosis, IBSI excess kurtosis: offset −3); 0 for the others.
    """

    pyradiomics: str
    family: str
    ibsiName: str
    ibsiCode: str
    offset: float = 0.0

    @property
    def featureClass(self) -> str:
        """pyradiomics feature class, e.g. ``glcm``."""
        return self.pyradiomics.split("_", 1)[0]


def _family(family: str, prefix: str, rows: list[tuple]) -> list[FeatureName]:
    return [FeatureName(f"{prefix}_{row[0]}", family, *row[1:]) for row in rows]


FEATURE_NAMES: tuple[FeatureName, ...] = tuple(
    _family(
        MORPHOLOGY,
        "shape",
        [
            ("MeshVolume", "Volume (mesh)", "RNU0"),
            ("VoxelVolume", "Volume (voxel counting)", "YEKZ"),
            ("SurfaceArea", "Surface area (mesh)", "C0JK"),
            ("SurfaceVolumeRatio", "Surface to volume ratio", "2PR5"),
            ("Sphericity", "Sphericity", "QCFX"),
            ("Maximum3DDiameter", "Maximum 3D diameter", "L0JK"),
            ("MajorAxisLength", "Major axis length", "TDIC"),
            ("MinorAxisLength", "Minor axis length", "P9VJ"),
            ("LeastAxisLength", "Least axis length", "7J51"),
            ("Elongation", "Elongation", "Q3CK"),
            ("Flatness", "Flatness", "N17B"),
        ],
    )
    + _family(
        STATISTICS,
        "firstorder",
        [
            ("Energy", "Intensity-based energy", "N8CA"),
            ("Minimum", "Minimum intensity", "1GSF"),
            ("10Percentile", "10th intensity percentile", "QG58"),
            ("90Percentile", "90th intensity percentile", "8DWT"),
            ("Maximum", "Maximum intensity", "84IY"),
            ("Mean", "Mean intensity", "Q4LE"),
            ("Median", "Median intensity", "Y12H"),
            ("InterquartileRange", "Intensity interquartile range", "SALO"),
            ("Range", "Intensity range", "2OJQ"),
            ("MeanAbsoluteDeviation", "Intensity-based mean absolute deviation", "4FUA"),
            ("RobustMeanAbsoluteDeviation", "Intensity-based robust mean absolute deviation", "1128"),
            ("RootMeanSquared", "Root mean square intensity", "5ZWQ"),
            ("Skewness", "Intensity skewness", "KE2A"),
            ("Kurtosis", "(Excess) intensity kurtosis", "IPH6", -3.0),
            ("Variance", "Intensity variance", "ECT3"),
        ],
    )
    + _family(
        HISTOGRAM,
        "firstorder",
        [
            ("Entropy", "Discretised intensity entropy", "TLU2"),
            ("Uniformity", "Discretised intensity uniformity", "BJ5W"),
        ],
    )
    + _family(
        GLCM,
        "glcm",
        [
            ("MaximumProbability", "Joint maximum", "GYBY"),
            ("JointAverage", "Joint average", "60VM"),
            ("SumSquares", "Joint variance", "UR99"),
            ("JointEntropy", "Joint entropy", "TU9B"),
            ("DifferenceAverage", "Difference average", "TF7R"),
            ("DifferenceVariance", "Difference variance", "D3YU"),
            ("DifferenceEntropy", "Difference entropy", "NTRS"),
            ("SumAverage", "Sum average", "ZGXS"),
            ("SumEntropy", "Sum entropy", "P6QZ"),
            ("JointEnergy", "Angular second moment", "8ZQL"),
            ("Contrast", "Contrast", "ACUI"),
            ("Id", "Inverse difference", "IB1Z"),
            ("Idn", "Normalised inverse difference", "NDRX"),
            ("Idm", "Inverse difference moment", "WF0Z"),
            ("Idmn", "Normalised inverse difference moment", "1QCO"),
            ("InverseVariance", "Inverse variance", "E8JP"),
            ("Correlation", "Correlation", "NI2N"),
            ("Autocorrelation", "Autocorrelation", "QWB0"),
            ("ClusterTendency", "Cluster tendency", "DG8W"),
            ("ClusterShade", "Cluster shade", "7NFM"),
            ("ClusterProminence", "Cluster prominence", "AE86"),
            ("Imc1", "Information correlation 1", "R8DG"),
            ("Imc2", "Information correlation 2", "JN9H"),
        ],
    )
    + _family(
        GLRLM,
        "glrlm",
        [
            ("ShortRunEmphasis", "Short runs emphasis", "22OV"),
            ("LongRunEmphasis", "Long runs emphasis", "W4KF"),
            ("LowGrayLevelRunEmphasis", "Low grey level run emphasis", "V3SW"),
            ("HighGrayLevelRunEmphasis", "High grey level run emphasis", "G3QZ"),
            ("ShortRunLowGrayLevelEmphasis", "Short run low grey level emphasis", "HTZT"),
            ("ShortRunHighGrayLevelEmphasis", "Short run high grey level emphasis", "GD3A"),
            ("LongRunLowGrayLevelEmphasis", "Long run low grey level emphasis", "IVPO"),
            ("LongRunHighGrayLevelEmphasis", "Long run high grey level emphasis", "3KUM"),
            ("GrayLevelNonUniformity", "Grey level non-uniformity", "R5YN"),
            ("GrayLevelNonUniformityNormalized", "Normalised grey level non-uniformity", "OVBL"),
            ("RunLengthNonUniformity", "Run length non-uniformity", "W92Y"),
            ("RunLengthNonUniformityNormalized", "Normalised run length non-uniformity", "IC23"),
            ("RunPercentage", "Run percentage", "9ZK5"),
            ("GrayLevelVariance", "Grey level variance", "8CE5"),
            ("RunVariance", "Run length variance", "SXLW"),
            ("RunEntropy", "Run entropy", "HJ9O"),
        ],
    )
    + _family(
        GLSZM,
        "glszm",
        [
            ("SmallAreaEmphasis", "Small zone emphasis", "P001"),
            ("LargeAreaEmphasis", "Large zone emphasis", "48P8"),
            ("LowGrayLevelZoneEmphasis", "Low grey level zone emphasis", "XMSY"),
            ("HighGrayLevelZoneEmphasis", "High grey level zone emphasis", "5GN9"),
            ("SmallAreaLowGrayLevelEmphasis", "Small zone low grey level emphasis", "5RAI"),
            ("SmallAreaHighGrayLevelEmphasis", "Small zone high grey level emphasis", "HW1V"),
            ("LargeAreaLowGrayLevelEmphasis", "Large zone low grey level emphasis", "YH51"),
            ("LargeAreaHighGrayLevelEmphasis", "Large zone high grey level emphasis", "J17V"),
            ("GrayLevelNonUniformity", "Grey level non-uniformity", "JNSA"),
            ("GrayLevelNonUniformityNormalized", "Normalised grey level non-uniformity", "Y1RO"),
            ("SizeZoneNonUniformity", "Zone size non-uniformity", "4JP3"),
            ("SizeZoneNonUniformityNormalized", "Normalised zone size non-uniformity", "VB3A"),
            ("ZonePercentage", "Zone percentage", "P30P"),
            ("GrayLevelVariance", "Grey level variance", "BYLV"),
            ("ZoneVariance", "Zone size variance", "3NSA"),
            ("ZoneEntropy", "Zone size entropy", "GU8N"),
        ],
    )
    + _family(
        NGLDM,
        "gldm",
        [
            ("SmallDependenceEmphasis", "Low dependence emphasis", "SODN"),
            ("LargeDependenceEmphasis", "High dependence emphasis", "IMOQ"),
            ("LowGrayLevelEmphasis", "Low grey level count emphasis", "TL9H"),
            ("HighGrayLevelEmphasis", "High grey level count emphasis", "OAE7"),
            ("SmallDependenceLowGrayLevelEmphasis", "Low dependence low grey level emphasis", "EQ3F"),
            ("SmallDependenceHighGrayLevelEmphasis", "Low dependence high grey level emphasis", "JA6D"),
            ("LargeDependenceLowGrayLevelEmphasis", "High dependence low grey level emphasis", "NBZI"),
            ("LargeDependenceHighGrayLevelEmphasis", "High dependence high grey level emphasis", "9QMG"),
            ("GrayLevelNonUniformity", "Grey level non-uniformity", "FP8K"),
            ("DependenceNonUniformity", "Dependence count non-uniformity", "Z87G"),
            ("DependenceNonUniformityNormalized", "Normalised dependence count non-uniformity", "OKJI"),
            ("GrayLevelVariance", "Grey level variance", "1PFV"),
            ("DependenceVariance", "Dependence count variance", "DNX2"),
            ("DependenceEntropy", "Dependence count entropy", "FCBV"),
        ],
    )
    + _family(
        NGTDM,
        "ngtdm",
        [
            ("Coarseness", "Coarseness", "QCDE"),
            ("Contrast", "Contrast", "65HE"),
            ("Busyness", "Busyness", "NQ30"),
            ("Complexity", "Complexity", "HDEZ"),
            ("Strength", "Strength", "1X9X"),
        ],
    )
)

_AGGREGATION = {
    # pyradiomics sums one matrix per direction over the whole ROI (all slices with
    # force2D) and averages the features over directions.
    ("glcm", False): "3D, averaged",
    ("glrlm", False): "3D, averaged",
    ("glcm", True): "2.5D, direction-merged",
    ("glrlm", True): "2.5D, direction-merged",
}


def aggregation(featureClass: str, force2D: bool) -> str | None:
    """The IBSI aggregation method that pyradiomics' computation of ``featureClass`` matches.

    :param force2D: whether pyradiomics runs with ``force2D`` (in-plane texture).
    :returns: the reference table's ``aggregation`` value, ``None`` for classes without one.
    """
    if featureClass in ("shape", "firstorder"):
        return None
    return _AGGREGATION.get((featureClass, force2D), "2.5D" if force2D else "3D")


def byPyradiomicsName() -> dict[str, FeatureName]:
    """The mapping keyed by ``<class>_<feature>``."""
    return {name.pyradiomics: name for name in FEATURE_NAMES}


def byIbsiCode() -> dict[str, FeatureName]:
    """The mapping keyed by IBSI code."""
    return {name.ibsiCode: name for name in FEATURE_NAMES}
