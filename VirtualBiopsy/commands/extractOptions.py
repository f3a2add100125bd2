"""The extraction settings on the command line: the options that fill an
:class:`~VirtualBiopsy.extract.config.ExtractionConfig`, the one the Outcome module's Features panel and the
pipeline's ``extraction`` section build."""

from __future__ import annotations

import argparse
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from VirtualBiopsy.extract.config import ExtractionConfig


def addExtractionOptions(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``, ``--params``/``--preset`` and the options that override single settings."""
    parser.add_argument(
        "--config",
        type=pathlib.Path,
        metavar="YAML",
        help="extraction settings: the 'extraction' section of a pipeline settings file (or a file "
        "of those keys alone); the options below override it",
    )
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument(
        "--params",
        type=pathlib.Path,
        metavar="YAML",
        help="pyradiomics parameter file or radiomics preset file (ExtractionConfig.parameterFile)",
    )
    settings.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="shipped radiomics preset (ExtractionConfig.preset; default: mr-default)",
    )
    parser.add_argument(
        "--feature-class",
        dest="featureClasses",
        action="append",
        metavar="CLASS",
        help="compute only this pyradiomics feature class (repeatable; default: the preset's)",
    )
    parser.add_argument(
        "--bin-width",
        dest="binWidth",
        type=float,
        metavar="W",
        help="grey-level bin width in image units (about 0.1 for z-scored images; default: the preset's)",
    )
    parser.add_argument(
        "--resampled-spacing",
        dest="resampledPixelSpacing",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="resample to this spacing in mm first (default: the preset's)",
    )
    parser.add_argument(
        "--min-voxels",
        dest="minimumRoiVoxels",
        type=int,
        metavar="N",
        help="refuse ROIs with fewer voxels (default: the library's)",
    )
    parser.add_argument(
        "--max-bins",
        dest="maximumBinCount",
        type=int,
        metavar="N",
        help="refuse settings that bin an image into more than N grey levels (default: the library's, 512; "
        "pyradiomics' time grows with the cube of the count)",
    )
    parser.add_argument(
        "--resample-mask",
        dest="resampleMaskToImage",
        action="store_const",
        const=True,
        help="resample a mask on another grid onto the image (nearest neighbour) instead of refusing it; refused "
        "when part of the ROI lies outside the image or its volume changes by more than 10%%",
    )
    parser.add_argument(
        "--no-crop",
        dest="cropToRoi",
        action="store_const",
        const=False,
        help="filter the whole image instead of a crop around the ROI (pyradiomics bit for bit, slower)",
    )


def extractionConfig(arguments: argparse.Namespace) -> ExtractionConfig:
    """The :class:`~VirtualBiopsy.extract.config.ExtractionConfig` of the command line: the one the Outcome
    module's Features panel and the pipeline's ``extraction`` section build, read from ``--config`` and then
    overridden by the options given.

    :raises InputError: for an unreadable file, an unknown key or a value out of range (naming it).
    """
    from VirtualBiopsy.extract.config import ExtractionConfig
    from VirtualBiopsy.settings import readYamlFile

    values: dict = {}
    if arguments.config is not None:
        document = readYamlFile(arguments.config, "Extraction settings file")
        values = (
            dict(document.get("extraction", document)) if isinstance(document.get("extraction", {}), dict) else document
        )
    options = {
        name: getattr(arguments, name)
        for name in (
            "featureClasses",
            "binWidth",
            "resampledPixelSpacing",
            "minimumRoiVoxels",
            "maximumBinCount",
            "resampleMaskToImage",
            "cropToRoi",
        )
    }
    values.update({name: value for name, value in options.items() if value is not None})
    if arguments.params is not None:
        values["parameterFile"] = str(arguments.params)
    elif arguments.preset is not None:
        values.update(preset=arguments.preset, parameterFile="")
    return ExtractionConfig.fromDict(values)
