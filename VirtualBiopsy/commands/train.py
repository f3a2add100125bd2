"""``virtual-biopsy train``: train an nnU-Net segmentation model on a cohort.

The cohort manifest's cases (the chosen sequences and the ``mask`` column, the
reviewed ground truth) are exported to an nnU-Net raw dataset, then nnU-Net plans,
preprocesses and trains in a worker process. The new folder ``--out`` receives the
trained model (``dataset.json``, ``plans.json``, ``fold_F/checkpoint_final.pth`` that
loads with ``weights_only=True``, ``training.json``). With ``--id`` the model is also
imported into the user's models (``virtual-biopsy models list``) under that id.
Cases that fail the checks are listed and skipped. Nothing is written when the input
is bad. A training stopped by Ctrl+C or killed leaves no model folder; its preprocessed
data and a checkpoint of every finished epoch stay in ``MODELDIR.partial-work``, and
``--resume`` continues it from the last finished epoch (``--restart`` discards it).
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions


def addParser(commands) -> None:
    """Add the ``train`` parser."""
    parser = commands.add_parser(
        "train",
        help="train an nnU-Net segmentation model on a cohort manifest",
        description="Export the cohort's images and masks to an nnU-Net raw dataset, plan, preprocess and train "
        "nnU-Net v2 in a worker process, and write the trained-model folder --out (loadable with "
        "weights_only=True). Cases with missing sequences, masks off the image grid or unknown labels are skipped "
        "and listed. --id also imports the model into the user's models folder.",
    )
    parser.add_argument(
        "--manifest",
        type=pathlib.Path,
        required=True,
        metavar="COHORT.csv",
        help="cohort manifest (patient, sequence columns, mask)",
    )
    parser.add_argument(
        "--out", type=pathlib.Path, required=True, metavar="MODELDIR", help="new or empty folder for the trained model"
    )
    parser.add_argument(
        "--sequences",
        metavar="A,B",
        help="input sequences in channel order (default: every sequence column of the manifest), e.g. FLAIR,T1c",
    )
    parser.add_argument("--epochs", type=int, default=100, metavar="N", help="training epochs (default 100)")
    parser.add_argument(
        "--iterations-per-epoch",
        type=int,
        default=250,
        metavar="N",
        help="training batches per epoch (default 250, nnU-Net's)",
    )
    parser.add_argument(
        "--configuration",
        default="3d_fullres",
        metavar="C",
        help="nnU-Net configuration: 3d_fullres (default), 2d or 3d_lowres",
    )
    parser.add_argument("--fold", default="all", metavar="F", help="cross-validation fold 0-4, or 'all' (default)")
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to train (default auto: CUDA when available)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped or killed training of MODELDIR from its last finished epoch (kept in "
        "MODELDIR.partial-work); give the options and manifest it was started with",
    )
    again.add_argument(
        "--restart", action="store_true", help="discard MODELDIR.partial-work, a stopped training, and start over"
    )
    parser.add_argument("--id", dest="modelId", metavar="ID", help="also import the model under this id")
    parser.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder for --id (default: ~/.local/share/virtual-biopsy/models or "
        "the platform's user data folder)",
    )
    addPathOptions(parser)
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Check the inputs, train and print where the model went."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.errors import InputError, VirtualBiopsyError
    from VirtualBiopsy.files import requireNewFolder
    from VirtualBiopsy.segment.training.datasetExport import casesFromCohort
    from VirtualBiopsy.segment.training.modelTraining import registerModel, trainModel

    out = requireNewFolder(arguments.out, "Trained-model folder (--out)")
    if arguments.modelId:
        from VirtualBiopsy.models.modelDetection import requireModelId

        requireModelId(arguments.modelId)
    cohort = readManifest(arguments.manifest, **pathOptions(arguments))
    sequences = [name.strip() for name in arguments.sequences.split(",")] if arguments.sequences else cohort.sequences
    unknown = [name for name in sequences if name not in cohort.sequences]
    if unknown or not all(sequences):
        raise InputError(
            f"--sequences {arguments.sequences}: {', '.join(unknown) or 'an empty name'} is not a "
            f"sequence column of {arguments.manifest} (it has {', '.join(cohort.sequences)})."
        )
    config = trainingConfig(arguments, sequences)
    if arguments.restart:
        from VirtualBiopsy.segment.training.trainingWork import discardWork, workFolderOf

        discardWork(workFolderOf(out))
    try:
        with progressBar("Training") as report:
            outcome = trainModel(
                casesFromCohort(cohort, sequences),
                out,
                config,
                progress=report,
                resume=arguments.resume,
            )
    except (KeyboardInterrupt, VirtualBiopsyError):
        _sayHowToResume(out)
        raise
    for caseId, reason in outcome.skipped:
        print(f"Skipped {caseId}: {reason}")
    losses = outcome.result.get("trainLosses") or [float("nan")]
    print(
        f"Trained on {len(outcome.cases)} case(s) ({len(outcome.skipped)} skipped) in "
        f"{outcome.result.get('seconds', 0):.0f} s; final training loss {losses[-1]:.4f}. Model: {out}"
    )
    if outcome.result.get("resumedAfterEpoch"):
        print(f"Resumed after epoch {outcome.result['resumedAfterEpoch']} of {arguments.epochs}.")
    if arguments.modelId:
        from VirtualBiopsy.models.registry import ModelRegistry

        entry = registerModel(out, arguments.modelId, ModelRegistry(arguments.models_dir))
        print(f"Imported as '{entry.id}' (sha256 {entry.sha256[:12]}…); see: virtual-biopsy models list")
    return 0


def _sayHowToResume(out) -> None:
    """After a stopped or failed training: where its work is kept and how to go on (if anything was kept)."""
    import sys

    from VirtualBiopsy.segment.training.trainingWork import hasReusableWork, workFolderOf

    work = workFolderOf(out)
    if hasReusableWork(work):
        print(
            f"virtual-biopsy train: the preprocessed data and finished epochs are kept in {work}; run the same "
            "command with --resume to continue, or with --restart to start over.",
            file=sys.stderr,
        )


def trainingConfig(arguments: argparse.Namespace, sequences: list[str]):
    """The :class:`~VirtualBiopsy.segment.training.config.TrainingConfig` of the command line (the one
    ``TrainingLogic.train`` takes), validated; the model is named after the manifest.

    :raises InputError: for a bad option, naming it.
    """
    from VirtualBiopsy.segment.training.config import TrainingConfig

    fold = arguments.fold if arguments.fold == "all" else _wholeNumber(arguments.fold, "--fold")
    manifest = arguments.manifest
    return TrainingConfig.fromDict(
        {
            "configuration": arguments.configuration,
            "epochs": arguments.epochs,
            "iterationsPerEpoch": arguments.iterations_per_epoch,
            "fold": fold,
            "device": arguments.device,
            "seed": arguments.seed,
            "sequences": list(sequences),
            "modelName": manifest.stem,
            "modelDescription": f"nnU-Net {arguments.configuration} trained on {manifest.name}",
            "source": f"virtual-biopsy train --manifest {manifest.name}, seed {arguments.seed}",
        }
    )


def _wholeNumber(text: str, option: str) -> int:
    from VirtualBiopsy.errors import InputError

    try:
        return int(text)
    except ValueError as error:
        raise InputError(f"{option} {text!r} is not a whole number or 'all'; give e.g. {option} 0.") from error
