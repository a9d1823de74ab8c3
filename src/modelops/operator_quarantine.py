"""`modelops quarantine`: the rows the data contract rejected, with their reasons, on the
terminal (not only in the UI or a Parquet file).

    modelops quarantine -u UC                    # the training data's rejected rows
    modelops quarantine -u UC --month 2025-04    # a production month's
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from modelops.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    quarantine = commands.add_parser(
        "quarantine", help="the rows the data contract rejected, with their reasons"
    )
    quarantine.add_argument("-u", "--use-case", required=True)
    quarantine.add_argument("--month", help="a production month (YYYY-MM); default: training")
    quarantine.add_argument("--limit", type=int, default=20, help="rows shown (default 20)")
    quarantine.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 3 when there is nothing stored to show (not run yet, unknown month)."""
    from modelops.names import PRODUCTION_QUARANTINE, QUARANTINE, monthly
    from modelops.operator import OperatorError, Platform

    try:
        platform = Platform(settings)
        spec = platform.spec(args.use_case)
    except OperatorError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    store = platform.resources.store
    name = monthly(PRODUCTION_QUARANTINE, args.month) if args.month else QUARANTINE
    where = f"production month {args.month}" if args.month else "the training data"
    if store.current_version(spec.id, name) is None:
        print(f"refused: nothing stored for {spec.id}, {where}: run it first", file=sys.stderr)
        return 3
    table = store.read_table(spec.id, name)
    print(quarantine_text(table, f"{spec.id}, {where}", limit=max(args.limit, 1)))
    return 0


def quarantine_text(table: pl.DataFrame, what: str, *, limit: int) -> str:
    """A header with the count and the most common reasons, then the first rows."""
    import polars as pl

    from modelops.formatting import quoted
    from modelops.spec.columns import ROW_ID

    if table.height == 0:
        return f"{what}: no row was quarantined"
    reasons = table.get_column("reasons").cast(pl.String)
    lines = [f"{what}: {table.height:,} row(s) quarantined", "", "Most common reasons:"]
    split = reasons.str.split("; ").explode().value_counts(sort=True).head(5)
    lines += [f"  {count:>6,}  {quoted(reason)}" for reason, count in split.iter_rows()]
    lines += ["", f"First {min(limit, table.height)} row(s) (row number in the file, reasons):"]
    for row_id, reason in table.select(ROW_ID, "reasons").head(limit).iter_rows():
        lines.append(f"  row {row_id:>6}  {quoted(reason)}")
    if table.height > limit:
        lines.append(f"  ... {table.height - limit:,} more (--limit N shows more)")
    return "\n".join(lines)
