"""The ``virtual-biopsy`` command: headless runs of the pipeline.

Every subcommand (one module each in :mod:`VirtualBiopsy.commands`) has
``--help``, shows a progress bar on long work and exits with 0 only on success.
Any failure is one line on stderr and an exit status: 2 for bad input (a
:class:`~VirtualBiopsy.errors.VirtualBiopsyError`, or an :class:`OSError` about
the user's paths: permission, read-only or full disk, file too large, name too
long, not a folder), 1 for a bug in Virtual Biopsy, 130 on Ctrl-C; the
traceback only with ``--debug`` (before or after the subcommand). The outputs a
command will write (:data:`OUTPUT_OPTIONS`) are checked before it starts
(:func:`~VirtualBiopsy.files.outputChecks.checkOutputLocation`).
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
import traceback

from VirtualBiopsy import __version__
from VirtualBiopsy.commands import (
    combat,
    demo,
    dicom,
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
from VirtualBiopsy.files.outputChecks import checkOutputLocation, explainPathError, writeFailureErrno

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
    dicom,
]

#: Options that name an output to write, by argparse dest, with the name messages give them; each one given is
#: checked (folder writable, not under a file, free space) before the command starts.
OUTPUT_OPTIONS = {
    "out": "--out",
    "out_transform": "--out-transform",
    "out_image": "--out-image",
    "png": "--png",
    "log_json": "--log-json",
}

#: Outputs under names that other commands use for inputs (``qa --probabilities`` is read), by command.
COMMAND_OUTPUTS = {
    "segment": {"probabilities": "--probabilities", "uncertainty": "--uncertainty", "variance": "--variance"},
    "report": {"folder": "Run folder"},
    "dicom": {"output": "OUT"},
}

#: Options under which a command writes nothing (``run --check``, ``run --print-config``).
WRITES_NOTHING = ("check", "print_config")


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
    """Run the command line; returns the exit status (argparse's own usage errors exit with 2)."""
    argv = _debugFirst(list(sys.argv[1:] if argv is None else argv))
    arguments = buildParser().parse_args(argv)
    _configureLogging(arguments.verbose)
    outputs = declaredOutputs(arguments)
    try:
        for name, path in outputs:
            checkOutputLocation(path, name)
        return arguments.run(arguments)
    except KeyboardInterrupt:
        print(f"virtual-biopsy {arguments.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        return _reportFailure(error, arguments.command, outputs, arguments.debug)


def declaredOutputs(arguments: argparse.Namespace) -> list[tuple[str, pathlib.Path]]:
    """The outputs the parsed command will write, as ``(name, path)``: none where it writes nothing."""
    if any(getattr(arguments, dest, False) for dest in WRITES_NOTHING):
        return []
    names = {**OUTPUT_OPTIONS, **COMMAND_OUTPUTS.get(arguments.command, {})}
    values = ((name, getattr(arguments, dest, None)) for dest, name in names.items())
    return [(name, pathlib.Path(value)) for name, value in values if isinstance(value, (str, os.PathLike))]


def _debugFirst(argv: list[str]) -> list[str]:
    """``--debug`` moved before the subcommand, so that it is understood after it too (not after ``--``)."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv
    return ["--debug", *(word for word in argv[:end] if word != "--debug"), *argv[end:]]


def _reportFailure(error: Exception, command: str, outputs: list[tuple[str, pathlib.Path]], debug: bool) -> int:
    """Print one line for ``error`` (after its traceback with ``--debug``); return the exit status."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    explained = explainPathError(_asPathError(error, outputs), outputs)
    if isinstance(error, VirtualBiopsyError) or explained is not None:
        print(f"virtual-biopsy {command}: error: {explained or error}", file=sys.stderr)
        return 2
    if isinstance(error, MemoryError):
        print(
            f"virtual-biopsy {command}: error: out of memory ({type(error).__name__}: {_oneLine(error)}); "
            "give smaller images or settings that need less memory, or use a machine with more memory",
            file=sys.stderr,
        )
        return 2
    hint = "the traceback is above; please report it" if debug else "rerun with --debug for the traceback and report it"
    print(
        f"virtual-biopsy {command}: internal error: {type(error).__name__}: {_oneLine(error)}. "
        f"This is a bug in Virtual Biopsy; {hint}",
        file=sys.stderr,
    )
    return 1


def _asPathError(error: Exception, outputs: list[tuple[str, pathlib.Path]]) -> OSError | None:
    """``error`` as an :class:`OSError`: itself, or for an image writer's failure (SimpleITK says only "could not
    write") the reason found at the first output (a file size limit, a full disk, a folder that refuses files)."""
    if isinstance(error, OSError):
        return error
    if isinstance(error, RuntimeError) and "ImageFileWriter" in str(error) and outputs:
        code = writeFailureErrno(outputs[0][1] / "written")
        return OSError(code, os.strerror(code), str(outputs[0][1])) if code is not None else None
    return None


def _oneLine(error: BaseException, limit: int = 400) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return text if len(text) <= limit else text[:limit] + "…"


if __name__ == "__main__":
    sys.exit(main())
