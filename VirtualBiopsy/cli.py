"""The ``virtual-biopsy`` command: headless runs of the pipeline.

Every subcommand (one module each in :mod:`VirtualBiopsy.commands`) has
``--help``, shows a progress bar on long work and exits with 0 only on success
(2 for bad input, 1 for any other failure).
"""

from __future__ import annotations

import argparse
import logging
import sys

from VirtualBiopsy import __version__
from VirtualBiopsy.commands import (
    combat,
    demo,
    explore,
    extract,
    harmonize,
    models,
    nyul,
    outcome,
    qa,
    register,
    report,
    robustness,
    run,
    sampleData,
    segment,
    styletransfer,
    synth,
    train,
)
from VirtualBiopsy.errors import VirtualBiopsyError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = [
    run,
    demo,
    synth,
    sampleData,
    extract,
    robustness,
    explore,
    qa,
    models,
    outcome,
    report,
    combat,
    harmonize,
    nyul,
    register,
    styletransfer,
    train,
    segment,
]


def buildParser() -> argparse.ArgumentParser:
    """The argument parser of ``virtual-biopsy``."""
    parser = argparse.ArgumentParser(
        prog="virtual-biopsy",
        description="Virtual Biopsy: harmonize, segment, extract and model outcome from MR images, headless.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to the terminal")
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.addParser(commands)
    return parser


def _configureLogging(verbose: bool) -> None:
    """Log to the terminal at INFO (``--verbose``) or WARNING; pyradiomics' chatter only at ERROR."""
    level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("radiomics").setLevel(logging.INFO if verbose else logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = buildParser().parse_args(argv)
    _configureLogging(arguments.verbose)
    try:
        return arguments.run(arguments)
    except VirtualBiopsyError as error:
        if arguments.debug:
            raise
        print(f"virtual-biopsy {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"virtual-biopsy {arguments.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
