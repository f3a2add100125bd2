"""``virtual-biopsy register``: align one image of a patient onto another (e.g. T1c onto T2).

The options are the settings of the Registration panel
(:class:`~VirtualBiopsy.harmonize.preprocessingConfig.RegistrationConfig`). Writes the transform (ITK ``.tfm``/``.h5``; fixed → moving, as Slicer and ITK read it) and the
moving image resampled onto the fixed grid, and prints the QC metrics. Bad input: exit 2
with one line on stderr, nothing written. A registration that fails QC writes nothing and
exits 1 unless ``--accept-failed-qc``. Existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import pathlib

#: Transform file suffixes SimpleITK writes and Slicer reads.
TRANSFORM_SUFFIXES = (".tfm", ".h5", ".txt")
#: Image file suffixes of ``--out-image``.
IMAGE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def addParser(commands) -> None:
    """Add the ``register`` parser."""
    parser = commands.add_parser(
        "register",
        help="register one image of a patient onto another (rigid → affine → optional B-spline)",
        description="Register --moving onto --fixed with Mattes mutual information (multi-resolution, centred "
        "moments initialisation, seeded sampling). An optional tumour --mask on the fixed grid focuses the metric on "
        "the tumour region when QC (normalized mutual information before vs after) fails, or at once with "
        "--focus-on-mask. Writes the transform (fixed → moving, ITK/Slicer convention) and the moving image resampled "
        "on the fixed grid; prints QC.",
    )
    parser.add_argument("--fixed", type=pathlib.Path, required=True, help="reference image file")
    parser.add_argument("--moving", type=pathlib.Path, required=True, help="image file to align")
    parser.add_argument(
        "--mask", type=pathlib.Path, help="tumour labelmap on the fixed image's grid (non-zero: tumour)"
    )
    parser.add_argument(
        "--stages", default="rigid,affine", help="linear stages: rigid, affine or rigid,affine (default: %(default)s)"
    )
    parser.add_argument("--bspline", action="store_true", help="add a deformable B-spline stage")
    parser.add_argument("--focus-on-mask", action="store_true", help="restrict the metric to the dilated mask at once")
    parser.add_argument(
        "--mask-dilation-mm",
        type=float,
        metavar="MM",
        help="how far the mask is dilated for the metric and the QC region (default: 10)",
    )
    parser.add_argument("--no-retry", action="store_true", help="do not run again with a metric mask when QC fails")
    parser.add_argument("--seed", type=int, default=0, help="seed of the metric's sampling (default: %(default)s)")
    parser.add_argument(
        "--qc-minimum-nmi",
        type=float,
        default=None,
        metavar="NMI",
        help="lowest normalized mutual information after registration that passes QC (default: 1.05, "
        "see VirtualBiopsy.harmonize.registrationQuality)",
    )
    parser.add_argument("--accept-failed-qc", action="store_true", help="write the outputs even when QC fails")
    parser.add_argument(
        "--out-transform",
        type=pathlib.Path,
        required=True,
        metavar="T.tfm",
        help="new transform file (.tfm, .h5 or .txt)",
    )
    parser.add_argument(
        "--out-image",
        type=pathlib.Path,
        required=True,
        metavar="PATH",
        help="new image file: the moving image on the fixed grid",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Register, check QC, write the transform and the resampled image."""
    import sys

    import SimpleITK as sitk

    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import temporarySibling, writeImageAtomically
    from VirtualBiopsy.harmonize.registration import registerImages
    from VirtualBiopsy.harmonize.registrationQuality import qcLine

    outTransform, outImage = pathlib.Path(arguments.out_transform), pathlib.Path(arguments.out_image)
    for path in (outTransform, outImage):
        if path.exists():
            raise InputError(
                f"Output file {path} exists already; nothing is overwritten. Choose a new path or remove it."
            )
    if outTransform.suffix.lower() not in TRANSFORM_SUFFIXES:
        raise InputError(f"--out-transform {outTransform} must end with {', '.join(TRANSFORM_SUFFIXES)}, e.g. T.tfm.")
    if not outImage.name.lower().endswith(IMAGE_SUFFIXES):
        raise InputError(
            f"--out-image {outImage} must end with {', '.join(IMAGE_SUFFIXES)}, e.g. moving_registered.nrrd."
        )
    if outTransform.resolve() == outImage.resolve():
        raise InputError("--out-transform and --out-image are the same file; give two paths.")
    config = registrationConfig(arguments)
    fixed = readImage(arguments.fixed, "fixed image")
    moving = readImage(arguments.moving, "moving image")
    mask = readImage(arguments.mask, "mask") if arguments.mask else None
    result = registerImages(fixed, moving, mask, **config.registrationArguments())
    print(qcLine(result.metrics, result.qcPassed, result.metricMask, result.retried))
    if not result.qcPassed and not arguments.accept_failed_qc:
        print(
            "virtual-biopsy register: registration failed QC; nothing was written. Check that the images belong to "
            "the same patient, give a --mask around the tumour, or pass --accept-failed-qc.",
            file=sys.stderr,
        )
        return 1
    for path in (outTransform, outImage):
        path.parent.mkdir(parents=True, exist_ok=True)
    with temporarySibling(outTransform) as temporary:
        sitk.WriteTransform(result.transform, str(temporary))
    try:
        writeImageAtomically(result.resampled, outImage)
    except BaseException:
        outTransform.unlink(missing_ok=True)
        raise
    print(f"Transform: {outTransform}")
    print(f"Registered image: {outImage}")
    return 0


def registrationConfig(arguments: argparse.Namespace):
    """The :class:`~VirtualBiopsy.harmonize.preprocessingConfig.RegistrationConfig` of the options (the Registration
    panel's settings; ``--mask-dilation-mm`` and ``--no-retry`` as there).

    :raises InputError: for a bad value, naming the setting.
    """
    from VirtualBiopsy.harmonize.preprocessingConfig import RegistrationConfig

    values = {
        "registrationStages": ",".join(stage.strip() for stage in arguments.stages.split(",") if stage.strip()),
        "registrationBspline": arguments.bspline,
        "focusOnMask": arguments.focus_on_mask,
        "maskDilationMm": arguments.mask_dilation_mm,
        "registrationRetry": not arguments.no_retry,
        "qcMinimumNmi": arguments.qc_minimum_nmi,
        "registrationSeed": arguments.seed,
    }
    return RegistrationConfig.fromDict({key: value for key, value in values.items() if value is not None})
