"""The spec's reason-code catalogue applied to answers: each stated reason (a feature) gets its
applicant-facing `code` and `text`, the same in every door (online, pyfunc, batch).

Without an `explanations` section there is no catalogue: code and text stay null (the
answers are today's). With one, a feature the catalogue does not list reads the section's
`default_text` (and `default_code`). Strings are kept as written; renderers escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from modelops.formatting import table
from modelops.spec.model import UseCaseSpec


@dataclass(frozen=True)
class ReasonCatalogue:
    """Feature -> (code, text); `None` when the spec declares no catalogue."""

    entries: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    default_code: str | None = None
    default_text: str | None = None

    @classmethod
    def of(cls, spec: UseCaseSpec) -> ReasonCatalogue:
        """The spec's catalogue; an empty one (null code and text) without `explanations`."""
        section = spec.explanations
        if section is None:
            return cls()
        entries = {name: (r.code, r.text) for name, r in section.reasons.items()}
        return cls(entries, section.default_code, section.default_text)

    def describe(self, feature: str | None) -> dict[str, str | None]:
        """`{"code": ..., "text": ...}` of one stated reason (both null for no reason)."""
        if feature is None:
            return {"code": None, "text": None}
        code, text = self.entries.get(feature, (self.default_code, self.default_text))
        return {"code": code, "text": text}

    def columns(self, reasons: list[pl.Series]) -> list[pl.Series]:
        """`reason_i_code` then `reason_i_text` for the `reason_i` columns (feature names;
        null where no reason was stated): one vectorised lookup per column."""
        frame = pl.DataFrame(reasons)
        codes = {name: code for name, (code, _) in self.entries.items()}
        texts = {name: text for name, (_, text) in self.entries.items()}
        out = frame.select(
            *[self._lookup(c, codes, self.default_code, "code") for c in frame.columns],
            *[self._lookup(c, texts, self.default_text, "text") for c in frame.columns],
        )
        return out.get_columns()

    @staticmethod
    def _lookup(
        column: str, mapping: dict[str, str | None], default: str | None, suffix: str
    ) -> pl.Expr:
        found = pl.col(column).replace_strict(mapping, default=default, return_dtype=pl.String)
        return (
            pl.when(pl.col(column).is_null())
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(found)
            .alias(f"{column}_{suffix}")
        )


def reason_text_schema(top_k: int) -> dict[str, pl.DataType]:
    """The catalogue's columns of a prediction table, in order."""
    return {
        **{f"reason_{i}_code": pl.String() for i in range(1, top_k + 1)},
        **{f"reason_{i}_text": pl.String() for i in range(1, top_k + 1)},
    }


def reason_catalogue_lines(spec: UseCaseSpec) -> list[str]:
    """The catalogue as markdown for the card (each string escaped as a table cell)."""
    section = spec.explanations
    if section is None or not section.reasons:
        return ["No reason-code catalogue: answers state features and contributions only."]
    rows = [[name, r.code, r.text] for name, r in section.reasons.items()]
    rows.append(["(any other feature)", section.default_code or "", section.default_text])
    return table(["feature", "code", "applicant-facing text"], rows)
