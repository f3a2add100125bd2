"""``virtual-biopsy outcome ACTION``: outcome modelling from feature and clinical tables.

Each action lives in its own module of this package with ``addParser(actions)``
(adds its parser and sets ``run``); :data:`ACTIONS` lists them in ``--help`` order.
"""

from __future__ import annotations

from VirtualBiopsy.commands.outcome import (
    classify,
    cluster,
    cnn,
    cox,
    explain,
    km,
    signature,
)

#: Action modules of ``virtual-biopsy outcome``, in the order ``--help`` lists them.
ACTIONS: list = [km, cox, signature, cluster, classify, explain, cnn]


def addParser(commands) -> None:
    """Add the ``outcome`` parser and one subparser per action module."""
    parser = commands.add_parser(
        "outcome",
        help="outcome modelling: survival, signatures, clusters, classifiers, explanations, CNNs",
        description="Outcome modelling on feature and clinical tables (and images, for the CNN actions).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action in ACTIONS:
        action.addParser(actions)
