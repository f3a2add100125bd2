"""The hostile suite's checks: inputs unchanged, no payload ran, no planted identifier leaked, a clear refusal.

Every case of ``Testing/hostile`` runs the command line in this process (:func:`runCommand`, the same
``VirtualBiopsy.cli.main`` the installed command calls) or a library call, inside :func:`guarded`, which
hashes every input before and after, and afterwards looks for payload marker files and for the planted
identifiers in every output file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import pathlib
from collections.abc import Iterable, Iterator

#: Identifiers planted in hostile inputs (DICOM headers, table cells, file metadata); none may reach an output.
PLANTED_IDENTIFIERS = ("DOE^JANE", "19230101", "ACC-7731", "NHS-943-476-5919")


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What one command-line run gave: exit status and both streams."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def runCommand(*argv: str | os.PathLike) -> CommandResult:
    """Run ``virtual-biopsy ARGV`` in this process; never raises (a crash shows as code 1 with its text)."""
    from VirtualBiopsy.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main([str(argument) for argument in argv])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 2
    return CommandResult(code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue())


def assertRefused(result: CommandResult, *words: str, code: int = 2) -> None:
    """The command failed with ``code``, said every one of ``words`` and showed no traceback."""
    assert result.code == code, f"exit {result.code}, expected {code}:\n{result.output}"
    assert "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output, f"{word!r} not in:\n{result.output}"


def fileHashes(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """SHA-256 of every file at or under ``paths`` (links recorded by their target text, never followed)."""
    hashes: dict[str, str] = {}
    for root in map(pathlib.Path, paths):
        members = [root] if not root.is_dir() or root.is_symlink() else sorted(root.rglob("*"))
        for member in members:
            if member.is_symlink():
                hashes[str(member)] = "link:" + os.readlink(member)
            elif member.is_file():
                hashes[str(member)] = hashlib.sha256(member.read_bytes()).hexdigest()
    return hashes


def outputText(folder: str | os.PathLike) -> Iterator[tuple[pathlib.Path, str]]:
    """Each file under ``folder`` with its bytes decoded as Latin-1 (so any byte string can be searched)."""
    for member in sorted(pathlib.Path(folder).rglob("*")):
        if member.is_file() and not member.is_symlink():
            yield member, member.read_bytes().decode("latin-1")


@contextlib.contextmanager
def guarded(
    inputs: Iterable[str | os.PathLike],
    outputs: Iterable[str | os.PathLike] = (),
    markers: Iterable[str | os.PathLike] = (),
    identifiers: Iterable[str] = PLANTED_IDENTIFIERS,
) -> Iterator[None]:
    """Check, after the block, that ``inputs`` are byte for byte unchanged, that no ``markers`` file appeared and
    that no planted identifier occurs in a file name or file under ``outputs``."""
    inputs, outputs, markers, identifiers = list(inputs), list(outputs), list(markers), list(identifiers)
    before = fileHashes(inputs)
    assert before, f"no input file found under {inputs}"
    yield
    assert fileHashes(inputs) == before, "an input file was modified, added or removed"
    appeared = [str(marker) for marker in map(pathlib.Path, markers) if marker.exists()]
    assert not appeared, f"a payload ran: {appeared}"
    for folder in map(pathlib.Path, outputs):
        if not folder.exists():
            continue
        for member, text in outputText(folder):
            for identifier in identifiers:
                assert identifier not in member.name, f"identifier {identifier!r} in file name {member}"
                assert identifier not in text, f"identifier {identifier!r} in {member}"
