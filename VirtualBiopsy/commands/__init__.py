"""Subcommands of ``virtual-biopsy``: one module each, with ``addParser(commands)``
(adds its parser and sets ``run``) and a ``run(arguments) -> int``."""
