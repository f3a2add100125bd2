"""``virtual-biopsy dicom export``: a segmentation as DICOM SEG, its features as a TID 1500 SR, maps as Parametric
Maps, all referring to the source series (see docs/dicom-export.md).

Writes ``DIR/seg.dcm``, with ``--features`` ``DIR/sr.dcm``, with ``--map Q=FILE`` ``DIR/<Q>.dcm``. The objects
carry the patient and study of the reference series (DICOM's rule); nothing printed names them.
"""

from __future__ import annotations

import argparse
import pathlib


def addParser(actions) -> None:
    """Add the ``export`` action to the ``dicom`` parser's actions."""
    parser = actions.add_parser(
        "export",
        help="export a segmentation as DICOM SEG, its features as a TID 1500 SR and maps as Parametric Maps",
        description="Write --out/seg.dcm (DICOM SEG referring to the --reference series), with --features "
        "--out/sr.dcm (TID 1500 SR: volume and features per segment) and with --map QUANTITY=FILE "
        "--out/QUANTITY.dcm (Parametric Map). The reference folder is never written.",
    )
    parser.add_argument("--segmentation", type=pathlib.Path, required=True, metavar="SEG.nrrd",
                        help="labelmap (values become segments 'Segment_<value>') or Slicer .seg.nrrd (names kept)")  # fmt: skip
    parser.add_argument("--reference", type=pathlib.Path, required=True, metavar="SERIES_FOLDER",
                        help="folder of the source DICOM series (exactly one series)")  # fmt: skip
    parser.add_argument("--features", type=pathlib.Path, metavar="FEATURES.csv",
                        help="features table written by 'virtual-biopsy extract' (rows by 'segment' or 'label')")  # fmt: skip
    parser.add_argument("--map", action="append", default=[], metavar="QUANTITY[:UNIT]=FILE",
                        help="a parametric map to export, e.g. ADC=adc.nrrd or Ktrans:/min=ktrans.nrrd (repeatable)")  # fmt: skip
    parser.add_argument("--model-id", dest="model_id", metavar="ID", help="id of the model that made the segmentation")
    parser.add_argument("--model-version", dest="model_version", metavar="V", help="version of that model")
    parser.add_argument("--manual", action="store_true", help="the segments were drawn or edited by a person")
    parser.add_argument("--category", default="tumour", help="segment category: tumour, oedema, necrosis, tissue")
    parser.add_argument("--resample-mask", dest="resample_mask", action="store_true",
                        help="resample a segmentation or map that is not on the reference grid onto it")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in --out")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Export the segmentation, then the features and maps."""
    from VirtualBiopsy.dicom.featureTable import readFeatureRows
    from VirtualBiopsy.dicom.parametricMaps import exportParametricMap
    from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries
    from VirtualBiopsy.dicom.segExport import exportSegmentation, segmentsFromFile
    from VirtualBiopsy.dicom.srExport import exportMeasurements
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import atomicOutput

    reference, out = arguments.reference.resolve(), arguments.out.resolve()
    if out == reference or reference in out.parents:
        raise InputError(
            f"--out {arguments.out} is inside the reference series folder {arguments.reference}, which is never "
            "written; give a folder outside it."
        )
    algorithm, modelId, modelVersion = _algorithm(arguments)
    maps = [_parseMap(text) for text in arguments.map]
    series = readReferenceSeries(arguments.reference)
    masks, specs = segmentsFromFile(arguments.segmentation, algorithm, modelId, modelVersion, arguments.category)
    painted = [spec for spec, mask in zip(specs, masks) if _any(mask)]  # empty segments are skipped: no row needed
    features = readFeatureRows(arguments.features, painted) if arguments.features and painted else None
    images = [(quantity, unit, _readImage(path)) for quantity, unit, path in maps]
    # Every file is written in a staging folder and moved into --out at the end: all of them or none.
    with atomicOutput(out / "seg.dcm", arguments.overwrite) as staged:
        written = exportSegmentation(masks, series, staged, specs, resample=arguments.resample_mask)
        names = ["seg.dcm"]
        if features is not None:
            kept = {name: values for name, values in features.items() if name not in written.skipped}
            exportMeasurements(kept, staged, series, staged.parent / "sr.dcm")
            names.append("sr.dcm")
        for quantity, unit, image in images:
            exportParametricMap(image, series, staged.parent / f"{quantity}.dcm", quantity, unit,
                                resample=arguments.resample_mask)  # fmt: skip
            names.append(f"{quantity}.dcm")
    lines = [f"{', '.join(names)} in {out} ({len(written.segments)} segment(s))"]
    if written.skipped:
        lines.append(f"skipped empty segment(s): {', '.join(written.skipped)}")
    print("dicom export wrote " + "; ".join(lines))
    return 0


def _any(mask) -> bool:
    import SimpleITK as sitk

    return bool(sitk.GetArrayViewFromImage(mask).any())


def _algorithm(arguments: argparse.Namespace) -> tuple[str, str, str]:
    from VirtualBiopsy.errors import InputError

    if arguments.manual and (arguments.model_id or arguments.model_version):
        raise InputError("Give either --manual or --model-id/--model-version, not both.")
    if arguments.manual:
        return "manual", "", ""
    if not (arguments.model_id and arguments.model_version):
        raise InputError(
            "Say how the segmentation was made: --model-id ID --model-version V for a model's segmentation, or "
            "--manual for one drawn or edited by a person."
        )
    return "AI", arguments.model_id, arguments.model_version


def _parseMap(text: str) -> tuple[str, str | None, pathlib.Path]:
    from VirtualBiopsy.dicom.parametricMaps import QUANTITIES
    from VirtualBiopsy.errors import InputError

    name, equals, path = text.partition("=")
    quantity, _, unit = name.partition(":")
    if not equals or not path or quantity not in QUANTITIES:
        raise InputError(
            f"--map {text!r} must be QUANTITY[:UNIT]=FILE with QUANTITY one of {', '.join(QUANTITIES)}, "
            "e.g. --map ADC=adc.nrrd."
        )
    return quantity, unit or None, pathlib.Path(path)


def _readImage(path: pathlib.Path):
    import SimpleITK as sitk

    from VirtualBiopsy.errors import InputError

    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(
            f"Map {path} cannot be read; give an image file SimpleITK reads (NRRD, NIfTI, MHA)."
        ) from error
