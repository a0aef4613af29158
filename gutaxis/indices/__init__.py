"""Diet-quality indices computed from a cohort's registry components (no Dagster here).

Each index is a module exposing INDEX_ID, NAME, REQUIRED (the registry components it needs), MAX_SCORES
(component -> maximum score) and `score(days, participants)`: `days` holds one row per participant-day
(participant_id, recall_day and a column per component amount, energy_kcal included), or one row per
participant with recall_day NULL; it returns participant_id, recall_day, component, score, max_score,
with `component = 'total'` for the total. Register a new index by adding its module to _MODULES.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, Iterable

import polars as pl

from gutaxis import GutaxisError
from gutaxis.indices import ahei2010, amed, dii, digm, hei2015, hei2020
from gutaxis.indices.scoring import KEYS, SCORE_SCHEMA, TOTAL, participant_means

_MODULES: tuple[ModuleType, ...] = (hei2015, hei2020, digm, ahei2010, amed, dii)


@dataclass(frozen=True)
class IndexDefinition:
    index_id: str
    name: str
    required: tuple[str, ...]
    max_scores: dict[str, float]
    score: Callable[[pl.DataFrame, pl.DataFrame | None], pl.DataFrame]
    # components scored when the cohort has them (the DII's parameters); a module without OPTIONAL has none
    optional: tuple[str, ...] = ()
    # a component's lowest score when it is below 0 (the DII's anti-inflammatory parameters); else 0
    min_scores: dict[str, float] = field(default_factory=dict)
    # the module's own rule when "missing" is not all-or-nothing (the DII needs any one parameter)
    own_not_computable: Callable[[Iterable[str]], str | None] | None = None
    # False for an index scored against the cohort's own distribution (medians, deciles): a group's mean
    # intakes cannot be scored against it, so the population ratio method does not apply
    population_ratio: bool = True
    # the cohort-relative cut points the index scores against (medians, deciles), for the record
    thresholds: Callable[[pl.DataFrame, pl.DataFrame | None], pl.DataFrame] | None = None

    def inputs(self, available: Iterable[str]) -> tuple[str, ...]:
        """The components the index reads for a cohort with these: the required ones and the optional present."""
        have = set(available)
        return (*self.required, *(c for c in self.optional if c in have and c not in self.required))

    def not_computable(self, available: Iterable[str]) -> str | None:
        """"not computable: missing X, Y" when the cohort lacks a component the index needs, else None."""
        have = set(available)
        if self.own_not_computable is not None:
            return self.own_not_computable(have)
        missing = [c for c in self.required if c not in have]
        return f"not computable: missing {', '.join(missing)}" if missing else None

    def day_scores(self, days: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scores per participant-day."""
        return self.score(self._inputs(days), participants)

    def participant_scores(self, days: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scores per participant on the participant's mean intakes over the days (recall_day NULL): the
        "simple HEI score" of NCI, a ratio of mean intakes rather than a mean of daily scores."""
        return self.score(self._means(days), participants)

    def cut_points(self, days: pl.DataFrame, participants: pl.DataFrame | None = None) -> pl.DataFrame | None:
        """scope (day | participant), sex, component, kind, median, n: the cut points the day and the participant
        scores were scored against; None for an index with fixed standards."""
        if self.thresholds is None:
            return None
        return pl.concat([
            self.thresholds(self._inputs(days), participants).with_columns(scope=pl.lit("day")),
            self.thresholds(self._means(days), participants).with_columns(scope=pl.lit("participant"))])

    def _means(self, days: pl.DataFrame) -> pl.DataFrame:
        return participant_means(self._inputs(days).drop_nulls(list(self.required)))

    def _inputs(self, days: pl.DataFrame) -> pl.DataFrame:
        """The keys, the required components, and the optional ones that have at least one value."""
        available = available_components(days)
        reason = self.not_computable(available)
        if reason:
            raise GutaxisError(f"{self.index_id}: {reason}; give the days a column (with values) for each")
        return days.select(pl.col("participant_id").cast(pl.String), pl.col("recall_day").cast(pl.Int32),
                           *self.inputs(available))


def definition(module: ModuleType) -> IndexDefinition:
    return IndexDefinition(module.INDEX_ID, module.NAME, tuple(module.REQUIRED), dict(module.MAX_SCORES), module.score,
                           tuple(getattr(module, "OPTIONAL", ())), dict(getattr(module, "MIN_SCORES", {})),
                           getattr(module, "not_computable", None), getattr(module, "POPULATION_RATIO", True),
                           getattr(module, "thresholds", None))


INDICES: dict[str, IndexDefinition] = {m.INDEX_ID: definition(m) for m in _MODULES}


def available_components(days: pl.DataFrame) -> list[str]:
    """Components of `days` with at least one value (a column that is all NULL had no source)."""
    return [c for c in days.columns if c not in KEYS and days[c].null_count() < days.height]


__all__ = ["INDICES", "IndexDefinition", "SCORE_SCHEMA", "TOTAL", "available_components", "definition",
           "participant_means"]
