"""``virtual-biopsy models``: list, import and verify segmentation models.

- ``models list``: the shipped and the user's models (id, version, backend, inputs, labels, trust, origin).
- ``models import PATH [--id ID] [--trust]``: copy a model folder, TorchScript file, ``.zip`` or tar archive into the
  user's models folder after checking it (no links, no paths leaving the folder, no zip bombs, only
  allow-listed classes in its configuration) and record its SHA-256. ``--trust`` lets its checkpoints be fully
  unpickled and its configuration name any class, once its files' hashes match: only for models whose origin
  you checked.
- ``models verify ID``: compare the model's files with the recorded hashes; exit status 1 and a per-file
  report when they differ.
- ``models fetch ID [--sha256 HEX]``: download a catalogue model (published models listed with their address,
  licence and version) into the model cache with a progress bar, verified by hash before it becomes usable;
  ``--sha256`` pins the archive's hash where the catalogue records none (downloads are never trusted on first use).

All take ``--models-dir DIR`` (default: the platform's user data folder, e.g.
``~/.local/share/virtual-biopsy/models``).
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib


def addParser(commands) -> None:
    """Add the ``models`` parser and its ``list``, ``import``, ``verify`` and ``fetch`` subcommands."""
    parser = commands.add_parser(
        "models",
        help="list, import, verify and fetch segmentation models",
        description="List, import, verify and fetch (catalogue) the segmentation models Virtual Biopsy knows.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder (default: ~/.local/share/virtual-biopsy/models or the "
        "platform's user data folder)",
    )
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="list the shipped and imported models",
        description="List the shipped and the imported models.",
    )
    listing.set_defaults(run=runList)
    importing = actions.add_parser(
        "import",
        parents=[common],
        help="import a model folder, TorchScript file, .zip or tar archive",
        description="Copy a model into the models folder and record its SHA-256: an nnU-Net trained-model folder "
        "(dataset.json, plans.json, fold_N/checkpoint_final.pth), a TorchScript .pt with its <name>.json "
        "(inputs, labels), a MONAI network folder (metadata .json with 'network' and the weights), or a .zip or tar "
        "archive (.tar, .tar.gz, .tgz) of one of them. Links, paths leaving the folder, zip bombs and configurations naming classes outside the "
        "allow-list are refused before anything is written.",
    )
    importing.add_argument("path", type=pathlib.Path, metavar="PATH", help="model folder, file, or .zip or tar archive")
    importing.add_argument("--id", dest="modelId", metavar="ID", help="the model's id (default: from PATH's name)")
    importing.add_argument(
        "--trust",
        action="store_true",
        help="allow its checkpoints to be fully unpickled and its configuration to name any class "
        "once its files' hashes match (this can run code: only for models whose origin you "
        "checked)",
    )
    importing.set_defaults(run=runImport)
    verifying = actions.add_parser(
        "verify",
        parents=[common],
        help="check a model's files against their hashes",
        description="Compare a model's files with the SHA-256 its manifest records; "
        "exit status 1 with a per-file report when they differ.",
    )
    verifying.add_argument("modelId", metavar="ID", help="the model's id (see 'virtual-biopsy models list')")
    verifying.set_defaults(run=runVerify)
    fetching = actions.add_parser(
        "fetch",
        parents=[common],
        help="download a catalogue model into the model cache",
        description="Download a catalogue model into the model cache (~/.cache/virtual-biopsy/models, "
        "$VIRTUAL_BIOPSY_CACHE/models) with a progress bar: the archive is checked against its SHA-256, extracted "
        "safely and each file hashed before the model becomes usable; an interrupted download resumes. Nothing is "
        "downloaded when the model is already in the cache and intact.",
    )
    fetching.add_argument("modelId", metavar="ID", help="a catalogue model's id (see 'virtual-biopsy models list')")
    fetching.add_argument(
        "--sha256",
        metavar="HEX",
        help="the archive's SHA-256, from a source you trust; required where the catalogue records none",
    )
    fetching.set_defaults(run=runFetch)


def runList(arguments: argparse.Namespace) -> int:
    """Print one line per model."""
    from VirtualBiopsy.models.catalogue import downloadSummary

    registry = _registry(arguments)
    entries = registry.list()
    if not entries:
        print(
            f"No models yet. Import one with: virtual-biopsy models import PATH (models folder: {registry.userFolder})"
        )
        return 0
    rows = [("ID", "VERSION", "BACKEND", "INPUTS", "LABELS", "TRUSTED", "ORIGIN")]
    for entry in entries:
        origin = "shipped" if registry.manifestOf(entry) == registry.shippedManifest else "user"
        if entry.isCatalogue:
            origin = f"catalogue, {downloadSummary(entry)}"
        rows.append(
            (
                entry.id,
                entry.version,
                entry.backend,
                ",".join(i.sequence for i in entry.inputs),
                ",".join(f"{label.value}:{label.name}" for label in entry.labels),
                "yes" if entry.trusted else "no",
                origin,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    uses = [(entry.id, entry.intendedUse) for entry in entries if entry.intendedUse]
    if uses:
        print("\nIntended use:")
        for modelId, use in uses:
            print(f"  {modelId}: {use}")
    return 0


def runFetch(arguments: argparse.Namespace) -> int:
    """Fetch the catalogue model (or find it in the cache) and print where it is."""
    import sys

    from VirtualBiopsy.commands.progressBar import progressBar

    registry = _registry(arguments)
    with contextlib.ExitStack() as stack:
        bar = None

        def progress(fraction: float, message: str) -> None:
            nonlocal bar  # the bar appears with the first byte, so that a refusal prints one line only
            bar = bar or stack.enter_context(progressBar("models fetch"))
            bar(fraction, message)

        def notify(notice: str) -> None:
            print(notice, file=sys.stderr)

        entry = registry.fetch(arguments.modelId, sha256=arguments.sha256, progress=progress, notify=notify)
    print(
        f"Model '{entry.id}' {entry.version} ({entry.backend}): {len(entry.files)} file(s) verified, tree sha256 "
        f"{entry.sha256}, in {entry.path}"
    )
    from VirtualBiopsy.models.modelEntry import SEGMENTATION_BACKENDS

    if entry.backend not in SEGMENTATION_BACKENDS:
        print(
            f"Note: this version of Virtual Biopsy cannot run {entry.backend} models yet (it runs "
            f"{', '.join(SEGMENTATION_BACKENDS)}); the files are verified and kept in the cache.",
            file=sys.stderr,
        )
    return 0


def runImport(arguments: argparse.Namespace) -> int:
    """Import the model and print its id, where it went and its hash."""
    from VirtualBiopsy.commands.progressBar import progressBar

    registry = _registry(arguments)
    with contextlib.ExitStack() as stack:
        bar = None

        def progress(fraction: float, message: str) -> None:
            nonlocal bar  # the bar appears with the first copied byte, so that refused input prints one line only
            bar = bar or stack.enter_context(progressBar("models import"))
            bar(fraction, message)

        entry = registry.importModel(arguments.path, arguments.modelId, trust=arguments.trust, progress=progress)
    print(
        f"Imported model '{entry.id}' ({entry.backend}, inputs {', '.join(i.sequence for i in entry.inputs)}; "
        f"{len(entry.files)} file(s), sha256 {entry.sha256}) into {registry.modelPath(entry)}"
    )
    if entry.trusted:
        print(
            f"Model '{entry.id}' is trusted: when its files' hashes match, its checkpoints may be fully unpickled "
            "and its configuration may name any class (both can run code)."
        )
    return 0


def runVerify(arguments: argparse.Namespace) -> int:
    """Verify the model; 0 when its files match, 1 otherwise."""
    registry = _registry(arguments)
    report = registry.verify(registry.lookup(arguments.modelId))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _registry(arguments: argparse.Namespace):
    from VirtualBiopsy.models.registry import ModelRegistry

    return ModelRegistry(arguments.models_dir)
