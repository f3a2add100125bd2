"""``virtual-biopsy qa``: segmentation QA metrics of one case, or of a cohort (``--manifest``).

One case compares ``--prediction`` with each ``--reference`` (several for an
inter-observer study; each rater is also compared with every other) and writes
the new folder ``--out`` with ``metrics.csv`` (one row per pair: ``patient``,
``pair``, ``reference``, ``prediction``, then the metrics of
:mod:`VirtualBiopsy.segment.qa.metrics`; ``inf`` is a distance to an empty mask and
an empty cell an undefined value, explained in the ``undefined`` column) and
``summary.csv`` (median, Q1, Q3, IQR, mean, SD and n per pair and metric, see
:mod:`VirtualBiopsy.segment.qa.cohortTables`) and ``provenance.json`` (settings,
versions, the SHA-256 of every input). A cohort also writes ``failures.csv``
(``patient``, ``error``): a case that cannot be compared is recorded there and the
others go on (exit status 1 when no case could be compared). The folder appears
complete or not at all; bad input writes nothing.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import re

from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions

#: ``NAME=PATH`` of ``--reference``.
_NAMED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)=(.+)$")


def addParser(commands) -> None:
    """Add the ``qa`` parser."""
    parser = commands.add_parser(
        "qa",
        help="segmentation QA metrics (DSC, HD95, surface DSC, ...) of a prediction against reference masks",
        description="Compare a predicted mask with one or more reference masks (labelmaps or Slicer .seg.nrrd files on "
        "one grid): DSC, Jaccard, HD95 and HD, mean surface distance, surface DSC at --tolerance, volume difference, "
        "sensitivity, specificity, FPR/FNR (standard and PRIMAGE forms) and, with --probabilities, the voxel-wise AUC; "
        "distances in mm, volumes in ml. With several references every rater is also compared with every other "
        "(inter-observer agreement). With --manifest, every case of a cohort. Writes the new folder --out: "
        "metrics.csv, summary.csv (median, IQR, mean, SD per metric), provenance.json and, for a cohort, failures.csv.",
    )
    parser.add_argument(
        "--reference",
        action="append",
        metavar="[NAME=]PATH",
        help="reference mask; NAME=PATH names the rater (repeatable: one per rater)",
    )
    parser.add_argument("--prediction", type=pathlib.Path, metavar="PATH", help="predicted mask (the model's)")
    parser.add_argument(
        "--probabilities",
        type=pathlib.Path,
        metavar="PATH",
        help="the prediction's foreground probability map on the same grid (for the AUC)",
    )
    parser.add_argument(
        "--manifest",
        type=pathlib.Path,
        metavar="CSV",
        help="cohort: columns patient, prediction, reference (reference_<rater> for more raters), "
        "optional probabilities; paths relative to the CSV",
    )
    parser.add_argument(
        "--patient", help="one case: its identifier in the tables (default: the prediction's file name)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        metavar="MM",
        help="tolerance of the surface DSC in mm (default: %(default)s)",
    )
    parser.add_argument(
        "--label",
        type=int,
        metavar="N",
        help="labelmaps: the value that marks the structure (default: any non-zero voxel)",
    )
    parser.add_argument(
        "--segment", metavar="NAME", help=".seg.nrrd files: the segment to compare (default: all segments together)"
    )
    parser.add_argument("--out", type=pathlib.Path, required=True, help="new or empty folder for the tables")
    addPathOptions(parser, "with --manifest: ")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Compute the metrics and write the tables; with ``--manifest``, of every case."""
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder

    if not math.isfinite(arguments.tolerance) or arguments.tolerance < 0:
        raise InputError(f"--tolerance is {arguments.tolerance:g} mm; give a finite distance ≥ 0 mm, e.g. 1.")
    if arguments.label is not None and arguments.label == 0:
        raise InputError("--label 0 is the background; give the structure's label (e.g. 1), or leave --label out.")
    requireNewFolder(arguments.out, "QA folder")
    if arguments.manifest is not None:
        return _runCohort(arguments)
    return _runCase(arguments)


def _runCase(arguments: argparse.Namespace) -> int:
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.segment.qa.cohortTables import caseMetricRows, metricsTable

    singleMissing = [
        option
        for option, value in (("--reference", arguments.reference), ("--prediction", arguments.prediction))
        if not value
    ]
    manifestOnly = [
        option
        for option, value in (
            ("--data-root", arguments.data_roots),
            ("--allow-outside-paths", arguments.allow_outside_paths),
        )
        if value
    ]
    if manifestOnly:
        raise InputError(f"{', '.join(manifestOnly)} apply to --manifest (a cohort) only; drop them for one case.")
    if singleMissing:
        raise InputError(
            f"Missing {' and '.join(singleMissing)}: give --reference PATH and --prediction PATH for one "
            "case, or --manifest CSV for a cohort."
        )
    references = parseReferences(arguments.reference)
    _requireApplicableSelectors(arguments, [*references.values(), arguments.prediction])
    reader = _MaskReader(arguments.label, arguments.segment)
    masks = {rater: reader.read(path, f"reference '{rater}'") for rater, path in references.items()}
    prediction = reader.read(arguments.prediction, "prediction")
    probabilities = _readProbabilities(arguments.probabilities) if arguments.probabilities else None
    patient = arguments.patient or _stem(arguments.prediction)
    rows = caseMetricRows(patient, masks, prediction, probabilities, arguments.tolerance)
    inputs = {
        patient: {
            "prediction": arguments.prediction,
            "probabilities": arguments.probabilities,
            **{f"reference:{rater}": path for rater, path in references.items()},
        }
    }
    _write(arguments.out, metricsTable(rows), None, _provenance(arguments, inputs))
    _report(arguments.out, metricsTable(rows), [])
    return 0


def _runCohort(arguments: argparse.Namespace) -> int:
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.segment.qa.cohortQa import compareCohort
    from VirtualBiopsy.segment.qa.qaManifest import readQaManifest

    singleCase = [
        option
        for option, value in (
            ("--reference", arguments.reference),
            ("--prediction", arguments.prediction),
            ("--probabilities", arguments.probabilities),
            ("--patient", arguments.patient),
        )
        if value
    ]
    if singleCase:
        raise InputError(
            f"--manifest compares the cases the manifest lists; {', '.join(singleCase)} apply to one case "
            "only. Drop them, or drop --manifest to compare one case."
        )
    cases = readQaManifest(arguments.manifest)
    _confineCases(arguments, cases)
    reader = _MaskReader(arguments.label, arguments.segment)
    with progressBar("qa") as progress:
        result = compareCohort(cases, reader.read, _readProbabilities, arguments.tolerance, progress=progress)
    failures = result.failures.to_dict("records")
    inputs = {
        case.patient: {
            "prediction": case.prediction,
            "probabilities": case.probabilities,
            **{f"reference:{rater}": path for rater, path in case.references.items()},
        }
        for case in cases
    }
    _write(arguments.out, result.metrics, failures, _provenance(arguments, inputs))
    _report(arguments.out, result.metrics, failures)
    return 0 if len(result.metrics) else 1


def _confineCases(arguments: argparse.Namespace, cases) -> None:
    """Refuse the manifest when any path leads outside its folder and the data roots (none is opened)."""
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import PathConfinement

    options = pathOptions(arguments)
    manifest = pathlib.Path(arguments.manifest).expanduser().resolve()
    confinement = PathConfinement.of(manifest.parent, options["dataRoots"], options["allowOutsidePaths"])
    refused = []
    for case in cases:
        named = {"prediction": case.prediction, "probabilities": case.probabilities, **case.references}
        for column, path in named.items():
            if path is not None and not confinement.allows(resolved := confinement.resolve(str(path))):
                refused.append(f"line {case.line}, column {column}: resolves to {resolved}")
    if refused:
        listed = refused[:5] + ([f"... and {len(refused) - 5} more"] if len(refused) > 5 else [])
        raise InputError(
            f"QA manifest {manifest} names {len(refused)} path(s) outside {confinement.places()}, so none was "
            f"opened: {'; '.join(listed)}. {confinement.fix()}"
        )


def parseReferences(values: list[str]) -> dict[str, pathlib.Path]:
    """``{rater: path}`` from ``--reference [NAME=]PATH`` values; unnamed ones are ``reference``
    (one) or ``reference1``, ``reference2``, ... by position.

    :raises InputError: for a repeated rater name.
    """
    from VirtualBiopsy.errors import InputError

    references: dict[str, pathlib.Path] = {}
    for position, value in enumerate(values, start=1):
        match = _NAMED.match(value)
        if match and not pathlib.Path(value).exists():
            name, path = match.group(1), pathlib.Path(match.group(2))
        else:
            name, path = ("reference" if len(values) == 1 else f"reference{position}"), pathlib.Path(value)
        if name in references:
            raise InputError(
                f"--reference {value}: rater '{name}' is given twice; give every rater a unique name "
                "(--reference alice=a.nrrd --reference bob=b.nrrd)."
            )
        references[name] = path
    return references


def _requireApplicableSelectors(arguments: argparse.Namespace, paths: list[pathlib.Path]) -> None:
    """``--segment`` needs a .seg.nrrd input and ``--label`` a labelmap input; otherwise it would be ignored."""
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import extensionOf

    segmentations = [extensionOf(pathlib.Path(path)) == ".seg.nrrd" for path in paths]
    if arguments.segment is not None and not any(segmentations):
        raise InputError(
            f"--segment {arguments.segment} picks a segment of .seg.nrrd files, but every mask here is a "
            "labelmap; use --label N for labelmaps."
        )
    if arguments.label is not None and all(segmentations):
        raise InputError(
            f"--label {arguments.label} picks a value of labelmap files, but every mask here is a "
            ".seg.nrrd; use --segment NAME for those."
        )


class _MaskReader:
    """Reads mask files, with one scene for the ``.seg.nrrd`` ones (made on first use)."""

    def __init__(self, label: int | None, segment: str | None) -> None:
        self.label, self.segment, self._scene = label, segment, None

    def read(self, path: pathlib.Path, what: str):
        from VirtualBiopsy.files import extensionOf
        from VirtualBiopsy.mrml.maskFiles import readMaskFile
        from VirtualBiopsy.mrml.scene import createScene

        if self._scene is None and extensionOf(pathlib.Path(path)) == ".seg.nrrd":
            self._scene = createScene()
        return readMaskFile(path, what, self.label, self.segment, self._scene)


def _readProbabilities(path: pathlib.Path):
    from VirtualBiopsy.commands.extract import readImage

    return readImage(path, "probability map")


def _provenance(arguments: argparse.Namespace, inputs: dict[str, dict[str, pathlib.Path | None]]) -> dict:
    """Settings, package versions and the path and SHA-256 of every input file that exists."""
    from VirtualBiopsy.files import sha256File
    from VirtualBiopsy.provenance import packageVersions

    def record(path: pathlib.Path) -> dict:
        path = pathlib.Path(path)
        return {"path": str(path), "sha256": sha256File(path) if path.is_file() else None}

    return {
        "command": "qa",
        "settings": {
            "toleranceMm": arguments.tolerance,
            "label": arguments.label,
            "segment": arguments.segment,
            "manifest": str(arguments.manifest) if arguments.manifest else None,
            "dataRoots": [str(root) for root in arguments.data_roots or []],
            "allowOutsidePaths": bool(arguments.allow_outside_paths),
        },
        "versions": packageVersions(("virtual-biopsy", "SimpleITK", "numpy", "scipy", "pandas", "slicer-core")),
        "inputs": {
            patient: {role: record(path) for role, path in files.items() if path is not None}
            for patient, files in inputs.items()
        },
    }


def _write(out: pathlib.Path, metrics, failures: list[dict] | None, provenance: dict) -> None:
    import json

    import pandas as pd

    from VirtualBiopsy.files import stagedOutputFolder
    from VirtualBiopsy.segment.qa.cohortTables import SUMMARY_COLUMNS, summarizeMetrics

    summary = summarizeMetrics(metrics) if len(metrics) else pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    with stagedOutputFolder(out, "QA folder") as staging:
        metrics.to_csv(staging / "metrics.csv", index=False)
        summary.to_csv(staging / "summary.csv", index=False)
        if failures is not None:
            pd.DataFrame(failures, columns=["patient", "error"]).to_csv(staging / "failures.csv", index=False)
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")


def _report(out: pathlib.Path, metrics, failures: list[dict]) -> None:
    cases = metrics["patient"].nunique() if len(metrics) else 0
    print(
        f"Metrics: {out / 'metrics.csv'} ({cases} case(s), {len(metrics)} pair row(s)); summary: {out / 'summary.csv'}"
    )
    if failures:
        print(f"Failed: {len(failures)} case(s), see {out / 'failures.csv'}")
    if len(metrics):
        model = metrics[metrics["prediction"] == "model"]["dsc"]
        print(f"Model DSC: median {model.median():.4f} over {len(model)} comparison(s)")


def _stem(path: pathlib.Path) -> str:
    name = pathlib.Path(path).name
    for suffix in (".nii.gz", ".seg.nrrd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return pathlib.Path(name).stem
