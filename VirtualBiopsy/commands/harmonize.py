"""``virtual-biopsy harmonize``: preprocess or normalize the intensities of one image file.

Preprocessing: ``n4`` (bias-field correction), ``denoise``, ``resample``. Intensity
normalization, with statistics from the voxels in ``--mask`` (else the head found
by Otsu's threshold, or every voxel with ``--mask-mode none``): ``zscore``,
``whitestripe``, ``nyul`` (``--model`` from ``virtual-biopsy nyul fit``),
``histmatch`` (``--reference``), ``percentile``, ``histeq``, ``clahe``.

Writes the new image ``--out`` and ``OUT.provenance.json`` beside it (method,
options, input and model hashes, versions). An option of another method, a
missing input or an existing output: exit 2, one line on stderr, nothing written.

``virtual-biopsy harmonize evaluate ...`` measures harmonization on feature tables instead
(:mod:`VirtualBiopsy.commands.harmonizeEvaluate`); the image options then do not apply.
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.harmonizeEvaluate import addEvaluateParser

PREPROCESSING = ("n4", "denoise", "resample")
NORMALIZATIONS = ("zscore", "whitestripe", "nyul", "histmatch", "percentile", "histeq", "clahe")
#: Image file suffixes of ``--out`` (single-file formats, written atomically).
OUTPUT_SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".mha")
#: Option (argparse dest) → the methods it applies to.
METHOD_OPTIONS = {
    "shrink_factor": ("n4",),
    "iterations": ("n4",),
    "convergence_threshold": ("n4",),
    "denoise_method": ("denoise",),
    "preset": ("resample",),
    "spacing_mm": ("resample",),
    "interpolator": ("resample",),
    "contrast": ("whitestripe",),
    "width": ("whitestripe",),
    "model": ("nyul",),
    "reference": ("histmatch", "resample"),
    "reference_mask": ("histmatch",),
    "histogram_levels": ("histmatch",),
    "match_points": ("histmatch",),
    "low": ("percentile",),
    "high": ("percentile",),
    "no_clip": ("percentile",),
    "bins": ("histeq", "clahe"),
    "clip_limit": ("clahe",),
    "kernel_size_mm": ("clahe",),
    "mask_mode": NORMALIZATIONS,
    "background": NORMALIZATIONS,
    "normalize_outside_mask": NORMALIZATIONS,
}


def addParser(commands) -> None:
    """Add the ``harmonize`` parser."""
    parser = commands.add_parser(
        "harmonize",
        help="bias-correct, denoise, resample or normalize the intensities of one image file",
        description="Preprocess or normalize one image. Normalizations take their statistics from the voxels in "
        "--mask (non-zero), else from the head (Otsu foreground) or, with --mask-mode none, from every voxel; "
        "outside the mask they write --background unless --normalize-outside-mask. Writes --out and "
        "OUT.provenance.json. Options of other methods are refused. 'harmonize evaluate --help': measure the "
        "effect of harmonization on a cohort's feature tables.",
    )
    # --image, --method and --out are required unless the action 'evaluate' is given (checked in run).
    parser.add_argument("--image", type=pathlib.Path, help="image file (NRRD, NIfTI, MHA, ...) (required)")
    parser.add_argument(
        "--mask",
        type=pathlib.Path,
        help="labelmap on the image grid: where the statistics come from (n4: where the bias field is fitted)",
    )
    parser.add_argument("--method", choices=PREPROCESSING + NORMALIZATIONS, help="(required)")
    parser.add_argument("--out", type=pathlib.Path, help=f"new image file ({', '.join(OUTPUT_SUFFIXES)}) (required)")
    normalization = parser.add_argument_group("normalization (every normalization method)")
    normalization.add_argument(
        "--mask-mode", choices=("foreground", "none"), help="without --mask: the head (default) or every voxel"
    )
    normalization.add_argument("--background", type=float, help="value outside the mask (default: 0)")
    normalization.add_argument(
        "--normalize-outside-mask", action="store_true", default=None, help="map the voxels outside the mask too"
    )
    methods = parser.add_argument_group("method options")
    methods.add_argument(
        "--contrast", choices=("T1", "T1c", "T2", "FLAIR", "PD"), help="whitestripe: contrast (default: T1)"
    )
    methods.add_argument("--width", type=float, help="whitestripe: half-width in quantiles (default: 0.05)")
    methods.add_argument("--model", type=pathlib.Path, metavar="LANDMARKS.json", help="nyul: standard scale file")
    methods.add_argument(
        "--reference",
        type=pathlib.Path,
        help="histmatch: volume to match; resample: grid to resample onto (preset 'reference')",
    )
    methods.add_argument(
        "--reference-mask",
        type=pathlib.Path,
        help="histmatch: labelmap on the reference grid "
        "(default: the reference's head, or every voxel with --mask-mode none)",
    )
    methods.add_argument("--histogram-levels", type=int, help="histmatch: histogram bins (default: 1024)")
    methods.add_argument("--match-points", type=int, help="histmatch: matched quantiles (default: 7)")
    methods.add_argument("--low", type=float, help="percentile: percentile mapped to 0 (default: 1)")
    methods.add_argument("--high", type=float, help="percentile: percentile mapped to 1 (default: 99)")
    methods.add_argument("--no-clip", action="store_true", default=None, help="percentile: do not clip to [0, 1]")
    methods.add_argument("--bins", type=int, help="histeq, clahe: grey levels (default: 256)")
    methods.add_argument("--clip-limit", type=float, help="clahe: clip limit in (0, 1] (default: 0.01)")
    methods.add_argument("--kernel-size-mm", type=float, help="clahe: region side in mm (default: 1/8 of the image)")
    methods.add_argument("--shrink-factor", type=int, help="n4: shrink factor (default: 4)")
    methods.add_argument("--iterations", help="n4: iterations per level, e.g. 50,50,50,50")
    methods.add_argument("--convergence-threshold", type=float, help="n4: convergence threshold (default: 1e-6)")
    methods.add_argument(
        "--denoise-method", help="denoise: nlm, gradientAnisotropicDiffusion, curvatureFlow or bilateral (default: nlm)"
    )
    methods.add_argument(
        "--preset",
        choices=("isotropic", "inPlane", "reference"),
        help="resample: preset (default: isotropic; reference with --reference)",
    )
    methods.add_argument("--spacing-mm", type=float, help="resample: new spacing (default: 1)")
    methods.add_argument(
        "--interpolator",
        choices=("nearest", "linear", "bspline", "lanczos"),
        help="resample: interpolator (default: bspline)",
    )
    parser.set_defaults(run=run)
    actions = parser.add_subparsers(dest="action", required=False, metavar="[evaluate]")
    addEvaluateParser(actions)


def run(arguments: argparse.Namespace) -> int:
    """Check the arguments, run the method and write the image and its provenance."""
    import json

    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.commands.harmonizeMethods import harmonizeImage
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import sha256File, writeTextAtomically

    missing = [f"--{name}" for name in ("image", "method", "out") if getattr(arguments, name) is None]
    if missing:
        raise InputError(
            f"{', '.join(missing)} missing: harmonizing an image needs --image, --method and --out "
            "(or run 'harmonize evaluate' on feature tables; see --help)."
        )
    out = pathlib.Path(arguments.out)
    sidecar = out.with_name(f"{_stem(out)}.provenance.json")
    for path in (out, sidecar):
        if path.exists():
            raise InputError(
                f"Output file {path} exists already; nothing is overwritten. Choose a new --out or remove it."
            )
    if not out.name.lower().endswith(OUTPUT_SUFFIXES):
        raise InputError(f"--out {out} must end with {', '.join(OUTPUT_SUFFIXES)}, e.g. t1c_harmonized.nrrd.")
    misplaced = [
        f"--{dest.replace('_', '-')}"
        for dest, methods in METHOD_OPTIONS.items()
        if getattr(arguments, dest) is not None and arguments.method not in methods
    ]
    if misplaced:
        raise InputError(
            f"{', '.join(misplaced)} do(es) not apply to --method {arguments.method}; drop them or choose "
            "the method they belong to (see virtual-biopsy harmonize --help)."
        )
    if arguments.mask is not None and arguments.mask_mode is not None:
        raise InputError("--mask and --mask-mode both say where the statistics come from; give one of them.")
    inputs = {
        "image": arguments.image,
        "mask": arguments.mask,
        "reference": arguments.reference,
        "referenceMask": arguments.reference_mask,
        "model": arguments.model,
    }
    inputs = {name: pathlib.Path(path) for name, path in inputs.items() if path is not None}
    image = readImage(arguments.image, "image")
    result, options = harmonizeImage(image, arguments)
    out.parent.mkdir(parents=True, exist_ok=True)
    provenance = {
        "method": arguments.method,
        "options": options,
        "inputs": {name: {"path": str(path), "sha256": sha256File(path)} for name, path in inputs.items()},
        "versions": _versions(),
    }
    writeVolumeAtomically(result, out)
    try:
        writeTextAtomically(json.dumps(provenance, indent=2, default=str) + "\n", sidecar)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    print(f"Harmonized image ({arguments.method}): {out}")
    print(f"Provenance: {sidecar}")
    return 0


def writeVolumeAtomically(image, path: pathlib.Path) -> pathlib.Path:
    """Write ``image`` to ``path`` through a hidden sibling with the same (double) suffix, then rename it."""
    from VirtualBiopsy.files import writeImageAtomically

    return writeImageAtomically(image, path)


def _stem(path: pathlib.Path) -> str:
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem


def _versions() -> dict[str, str]:
    import numpy
    import SimpleITK as sitk

    from VirtualBiopsy import __version__

    return {"virtualBiopsy": __version__, "simpleItk": sitk.Version.VersionString(), "numpy": numpy.__version__}
