"""``virtual-biopsy dicom deidentify IN OUT --key FILE``: the PS3.15 Basic Application Level Confidentiality Profile
with options, keyed pseudonyms, pseudonymous file names and reports (see docs/dicom-deidentify.md)."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(actions) -> None:
    """Add the ``deidentify`` action to the ``dicom`` parser's ``actions``."""
    parser = actions.add_parser(
        "deidentify",
        help="de-identify a DICOM folder tree (PS3.15 basic profile, keyed pseudonyms) into a new folder",
        description="Apply the DICOM PS3.15 Basic Application Level Confidentiality Profile to every file under IN "
        "and write OUT/<patient pseudonym>/<study UID>/<series UID>/<SOP instance UID>.dcm. Patient ids and names "
        "become keyed pseudonyms (VB-...), UIDs keyed 2.25 UIDs: the same with the same key in every run. IN is "
        "never written; images with burned-in annotation, DICOMDIRs, non-DICOM and truncated files are not written "
        "(listed in OUT/deidentification-skipped.csv by keyed token; their paths only in OUT-local-log.csv next to "
        "OUT, which must stay inside the hospital, like the key).",
    )
    parser.add_argument("input", nargs="?", type=pathlib.Path, metavar="IN", help="the DICOM folder (never written)")
    parser.add_argument("output", nargs="?", type=pathlib.Path, metavar="OUT", help="a new or empty folder")
    parser.add_argument("--key", type=pathlib.Path, metavar="FILE", help="the key file (mode 0600, 32+ bytes)")
    parser.add_argument("--new-key", action="store_true", help="create the --key file first (it must not exist)")
    parser.add_argument(
        "--make-key", type=pathlib.Path, metavar="FILE", help="only create a new key file FILE (mode 0600) and exit"
    )
    parser.add_argument(
        "--retain-dates",
        choices=["shift"],
        default=None,
        help="shift: keep dates, each patient's moved by one keyed number of days in [-365, -30] (times kept); "
        "default: dates removed",
    )
    parser.add_argument(
        "--retain-patient-characteristics",
        action="store_true",
        help="keep sex, age, size, weight, ethnic group, smoking and pregnancy status",
    )
    parser.add_argument(
        "--clean-descriptors",
        action="store_true",
        help="keep series/study descriptions, protocol name, contrast agent, ROI names, ... without the words that "
        "match the file's patient identifiers (not a guarantee: read docs/dicom-deidentify.md)",
    )
    parser.add_argument(
        "--safe-private",
        action="store_true",
        help="keep the safe-listed private tags (Siemens, GE, Philips diffusion b-values); all others are removed",
    )
    parser.add_argument(
        "--allow-burned-in",
        action="store_true",
        help="write images with burned-in annotation (flagged in deidentification-flagged.csv) instead of refusing",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run into OUT (same key and options)"
    )
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="processes (default: CPUs, at most 8)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Make a key, or de-identify IN into OUT and print the summary."""
    from VirtualBiopsy.dicom.deidentify.folder import checkFolders, deidentifyFolder
    from VirtualBiopsy.dicom.deidentify.keyFile import makeKey, readKey
    from VirtualBiopsy.dicom.deidentify.profile import ProfileOptions
    from VirtualBiopsy.errors import InputError

    if arguments.make_key is not None:
        if arguments.input is not None or arguments.key is not None:
            raise InputError("--make-key FILE creates a key and exits; give it alone, then run IN OUT --key FILE.")
        path = makeKey(arguments.make_key)
        print(f"new key: {path} (mode 0600). Keep it inside the hospital, never with the de-identified data.")
        return 0
    if arguments.input is None or arguments.output is None or arguments.key is None:
        raise InputError(
            "dicom deidentify needs IN, OUT and --key FILE (make a key with --make-key FILE or add --new-key)."
        )
    if arguments.workers is not None and arguments.workers < 1:
        raise InputError(f"--workers is {arguments.workers}; give 1 or more.")
    source, target = checkFolders(arguments.input, arguments.output, arguments.resume)
    key = arguments.key.absolute().resolve()
    for folder, name in ((source, "DICOM folder IN"), (target, "output folder OUT")):
        if key == folder or folder in key.parents:
            raise InputError(
                f"Key file {arguments.key} is inside the {name}; the key must never travel with the data (and IN is "
                "never written). Keep it in a private folder outside both."
            )
    if arguments.new_key:
        makeKey(arguments.key)
    secret = readKey(arguments.key)
    options = ProfileOptions(
        retainDates=arguments.retain_dates,
        retainPatientCharacteristics=arguments.retain_patient_characteristics,
        cleanDescriptors=arguments.clean_descriptors,
        safePrivate=arguments.safe_private,
        allowBurnedIn=arguments.allow_burned_in,
    )
    with progressBar("dicom deidentify") as progress:
        result = deidentifyFolder(
            arguments.input, arguments.output, secret, options, resume=arguments.resume, workers=arguments.workers,
            progress=progress,
        )  # fmt: skip
    print(
        f"{result.count('written')} files written, {result.count('resumed')} already done, {result.count('flagged')} "
        f"written and flagged (burned-in), {result.count('skipped')} skipped, {result.seconds:.1f} s: "
        f"{result.reports['report']}  {result.reports['skipped']}; local log (stays inside the hospital): "
        f"{result.reports['localLog']}"
    )
    return 0
