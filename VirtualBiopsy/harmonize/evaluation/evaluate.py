"""Run the whole evaluation: every method's table through site predictability, Kruskal–Wallis
and the downstream task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from VirtualBiopsy.harmonize.evaluation.downstream import downstreamTask
from VirtualBiopsy.harmonize.evaluation.kruskalWallis import (
    kruskalSummary,
    kruskalWallis,
)
from VirtualBiopsy.harmonize.evaluation.methods import (
    methodSources,
    methodTables,
    parseMethods,
)
from VirtualBiopsy.harmonize.evaluation.sitePredictability import (
    MODELS,
    HarmonizerSpec,
    sitePredictability,
)
from VirtualBiopsy.harmonize.evaluation.tables import EvaluationData
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


@dataclass(frozen=True)
class EvaluationSettings:
    """How the evaluation runs (recorded in ``summary.md``).

    :ivar methods: the methods (``None``: ``none``, ``combat`` and every further table).
    :ivar combatMethod: ComBat's empirical Bayes (``parametric``, ``nonparametric``, ``meanonly``).
    :ivar models: classifiers of the site and the task.
    :ivar repeats: repeats of the site cross-validation; :ivar folds: its folds.
    :ivar alpha: significance level of the Kruskal–Wallis summary.
    :ivar pairs: downstream ``(train, test)`` batch pairs (``None``: every ordered pair).
    :ivar topFeatures: features plotted (the highest H under the first method).
    :ivar seed: seed of the splits and the random forests.
    """

    methods: Sequence[str] | None = None
    combatMethod: str = "parametric"
    models: Sequence[str] = MODELS
    repeats: int = 5
    folds: int = 5
    alpha: float = 0.05
    pairs: Sequence[tuple[str, str]] | None = None
    topFeatures: int = 4
    seed: int = 0


@dataclass
class HarmonizationEvaluation:
    """The results (tables in long form, one row per method and ...).

    :ivar tables: ``{method: patients × features}`` as evaluated (ComBat applied where named).
    :ivar sitePredictability: ``method, model, auc, aucSd, repeats, folds, batches, cases``.
    :ivar kruskalWallis: ``method, feature, H, p, pBenjaminiHochberg, pBonferroni``.
    :ivar kruskalSummary: ``method, features, fractionSignificant, fractionSignificantBH,
        fractionSignificantBonferroni, medianH``.
    :ivar downstream: ``method, train, test, model, auc, accuracy, threshold, ...`` (empty without a task).
    :ivar topFeatures: the most batch-dependent features of the first method (highest H).
    """

    settings: EvaluationSettings
    data: EvaluationData
    tables: dict[str, pd.DataFrame]
    sitePredictability: pd.DataFrame
    kruskalWallis: pd.DataFrame
    kruskalSummary: pd.DataFrame
    downstream: pd.DataFrame
    topFeatures: list[str] = field(default_factory=list)


def evaluateHarmonization(
    data: EvaluationData,
    settings: EvaluationSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> HarmonizationEvaluation:
    """Evaluate every method of ``settings`` on ``data`` (see :mod:`~VirtualBiopsy.harmonize.evaluation`).

    :raises InputError: for an unknown method or classifier, or anything the parts refuse.
    :raises CancelledError: when ``cancel`` is set.
    """
    settings = settings or EvaluationSettings()
    progress = progress or noProgress
    methods = parseMethods(settings.methods, data)
    progress(0.0, "Harmonizing the feature tables")
    tables = methodTables(data, methods, settings.combatMethod, cancel)
    sources = methodSources(data, methods)
    sites, tests, summaries, downstream = [], [], [], []
    for number, (method, table) in enumerate(tables.items()):
        progress(0.05 + 0.95 * number / len(tables), f"Evaluating {method}")
        source, combat = sources[method]
        harmonizer = HarmonizerSpec(data.covariates, settings.combatMethod) if combat else None
        site = sitePredictability(
            source, data.batch, settings.models, settings.repeats, settings.folds, settings.seed, harmonizer, cancel
        )
        sites.append(site.assign(method=method))
        test = kruskalWallis(table, data.batch)
        tests.append(test.reset_index().assign(method=method))
        summaries.append({"method": method, **kruskalSummary(test, settings.alpha)})
        if data.task is not None:
            result = downstreamTask(
                table, data.batch, data.task, settings.pairs, settings.models, settings.seed, cancel
            )
            downstream.append(result.assign(method=method))
    progress(1.0, "Evaluation done")
    first = tests[0].sort_values("H", ascending=False, kind="stable")
    return HarmonizationEvaluation(
        settings=settings,
        data=data,
        tables=tables,
        sitePredictability=_methodFirst(pd.concat(sites, ignore_index=True)),
        kruskalWallis=_methodFirst(pd.concat(tests, ignore_index=True)),
        kruskalSummary=pd.DataFrame(summaries),
        downstream=_methodFirst(pd.concat(downstream, ignore_index=True)) if downstream else pd.DataFrame(),
        topFeatures=first["feature"].head(settings.topFeatures).tolist(),
    )


def _methodFirst(table: pd.DataFrame) -> pd.DataFrame:
    return table[["method", *[c for c in table.columns if c != "method"]]]
