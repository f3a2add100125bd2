"""A terminal progress bar driven by a ``progress(fraction, message)`` callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from VirtualBiopsy.progress import ProgressCallback


@contextlib.contextmanager
def progressBar(description: str) -> Iterator[ProgressCallback]:
    """Show a bar on the terminal while the ``with`` block runs; yields the callback."""
    from tqdm import tqdm

    with tqdm(total=100, desc=description, unit="%", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}") as bar:

        def report(fraction: float, message: str) -> None:
            bar.update(max(0, round(100 * fraction) - bar.n))
            bar.set_postfix_str(message, refresh=True)

        yield report
