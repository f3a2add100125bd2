"""The runner interface: how logic classes hand heavy work to a worker.

A *task* is a function ``task(arguments: dict, progress: ProgressCallback) -> dict``
named ``"package.module:function"``; its arguments and result are plain JSON
values (paths, numbers, strings), so the same task runs in this process or in a
child process. Images cross as files.
"""

from __future__ import annotations

from typing import Any, Protocol

from VirtualBiopsy.progress import CancelToken, ProgressCallback


class WorkerRunner(Protocol):
    """Runs one task to completion, streaming progress, until done or cancelled."""

    def run(
        self,
        task: str,
        arguments: dict[str, Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """Run ``task`` with ``arguments``; return its result.

        :raises CancelledError: when ``cancel`` is set; the work (and every process it started) is stopped.
        :raises ModelError: when the task fails; the message carries the worker's error.
        """
        ...
