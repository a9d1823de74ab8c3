"""Binning tables (count, goods, bads, bad rate, WoE, IV per bin; IV per feature) and the
markdown of the scorecard section of the card and the evaluation report."""

from __future__ import annotations

from pydantic import BaseModel
from sklearn.pipeline import Pipeline

from modelops.formatting import cell
from modelops.ml.scorecard.points import Scaling, points_table, woe_step, wrong_sign_features


class BinRow(BaseModel):
    feature: str
    bin: str
    count: int
    goods: int
    bads: int
    bad_rate: float | None
    woe: float
    iv: float


def binning_rows(pipeline: Pipeline) -> list[BinRow]:
    """One row per bin of each feature, from the training counts kept by the transformer."""
    rows: list[BinRow] = []
    for b in woe_step(pipeline).bins_:
        total_goods, total_bads = sum(b["goods"]), sum(b["bads"])
        for label, goods, bads, woe in zip(
            b["labels"], b["goods"], b["bads"], b["woe"], strict=True
        ):
            count = goods + bads
            share_goods = goods / total_goods if total_goods else 0.0
            share_bads = bads / total_bads if total_bads else 0.0
            iv = (share_goods - share_bads) * woe if count else 0.0
            rate = bads / count if count else None
            rows.append(BinRow(feature=b["feature"], bin=label, count=count, goods=goods,
                               bads=bads, bad_rate=rate, woe=woe, iv=iv))  # fmt: skip
    return rows


def information_values(pipeline: Pipeline) -> dict[str, float]:
    """IV per feature, largest first."""
    totals: dict[str, float] = {}
    for row in binning_rows(pipeline):
        totals[row.feature] = totals.get(row.feature, 0.0) + row.iv
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def scaling_of(spec: object) -> Scaling:
    card = getattr(getattr(spec, "model", None), "scorecard", None)
    if card is None:
        return Scaling()
    return Scaling(pdo=card.pdo, base_points=card.base_points, base_odds=card.base_odds)


def scorecard_lines(pipeline: Pipeline, spec: object) -> list[str]:
    """Markdown: the scaling, Information Value per feature, the points table and the binning
    table (both per bin; missing and special bins included when they hold training rows)."""
    scaling = scaling_of(spec)
    ivs = information_values(pipeline)
    rows = {(r.feature, r.bin): r for r in binning_rows(pipeline)}
    lines = [
        f"Scaled so that {scaling.base_points:g} points are odds of {scaling.base_odds:g}:1 "
        f"(good:bad) and every {scaling.pdo:g} points double the odds.",
        "",
        "| Feature | Information Value |",
        "|---|---:|",
        *[f"| {cell(f)} | {iv:.3f} |" for f, iv in ivs.items()],
        "",
        *_sign_warning(pipeline, ivs),
        "| Feature | Bin | Points | Points (exact) | Count | Goods | Bads | Bad rate | WoE | IV |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for item in points_table(pipeline, scaling):
        row = rows[(item.feature, item.bin)]
        if row.count == 0 and item.bin in ("Special", "Missing"):
            continue
        rate = "–" if row.bad_rate is None else f"{row.bad_rate:.1%}"
        lines.append(
            f"| {cell(item.feature)} | {cell(item.bin)} | {item.rounded} | {item.points:.2f} "
            f"| {row.count} | {row.goods} | {row.bads} | {rate} | {row.woe:.3f} | {row.iv:.3f} |"
        )
    return lines


def _sign_warning(pipeline: Pipeline, ivs: dict[str, float]) -> list[str]:
    """A warning line when a feature's points run against its bad rates."""
    wrong = wrong_sign_features(pipeline)
    if not wrong:
        return []
    listed = ", ".join(f"{cell(f)} (IV {ivs.get(f, 0.0):.3f})" for f in wrong)
    return [
        f"**Warning:** the coefficient of {listed} has the wrong sign: a bin with fewer bads "
        "earns fewer points. Consider leaving the feature out (a low IV suggests it adds little).",
        "",
    ]
