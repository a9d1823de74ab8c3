"""`modelops alerts`: the alerts raised, whether each reached its people, and a retry for the
ones that did not (docs/alerts.md).

    modelops alerts list [-u UC] [--undelivered]   alerts and their deliveries, newest last
    modelops alerts retry [-u UC]                  send the undelivered ones again

`retry` exits 1 while any delivery is still undelivered, so a scheduler can repeat it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelops.resources.alert_outbox import Delivery
    from modelops.resources.alerts import AlertSink
    from modelops.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    alerts = commands.add_parser(
        "alerts", help="the alerts raised and their deliveries; retry the undelivered"
    )
    actions = alerts.add_subparsers(dest="alerts_action", required=True)
    listed = actions.add_parser("list", help="alerts and whether each reached its people")
    listed.add_argument("-u", "--use-case", help="only this use case")
    listed.add_argument(
        "--undelivered", action="store_true", help="only alerts with an undelivered delivery"
    )
    listed.add_argument("--limit", type=int, default=50, help="newest alerts shown (default 50)")
    retry = actions.add_parser("retry", help="send the undelivered deliveries again")
    retry.add_argument("-u", "--use-case", help="only this use case")
    alerts.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from modelops.operator import OperatorError, Platform
    from modelops.resources.environment import alerts_for

    if args.use_case:
        try:
            Platform(settings).spec(args.use_case)
        except OperatorError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 3
    sink = alerts_for(settings)
    if args.alerts_action == "retry":
        return _retry(sink, args.use_case)
    print(alerts_text(sink, args.use_case, undelivered=args.undelivered, limit=args.limit))
    return 0


def alerts_text(
    sink: AlertSink, use_case: str | None, *, undelivered: bool = False, limit: int = 50
) -> str:
    """Each alert on one line, its deliveries under it; `undelivered`: only alerts with a
    delivery still undelivered (taken from the outbox, so none is missed)."""
    outbox = sink.outbox()
    deliveries = outbox.deliveries(use_case) if outbox else []
    by_alert: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_alert.setdefault(delivery.key[0], []).append(delivery)
    alerts = [a for a in sink.read() if use_case is None or a.get("use_case") == use_case]
    if undelivered:
        pending = {d.key[0]: d.alert for d in deliveries if d.status == "undelivered"}
        alerts = list(pending.values())
    where = f" of {use_case}" if use_case else ""
    if not alerts:
        return f"no {'undelivered ' if undelivered else ''}alert{where}"
    count = sum(1 for d in deliveries if d.status == "undelivered")
    lines = [
        f"{len(alerts)} {'undelivered ' if undelivered else ''}alert(s){where}; "
        f"{count} delivery(ies) undelivered"
        + (" (`modelops alerts retry` sends them again)" if count else "")
    ]
    for alert in alerts[-max(limit, 1) :]:
        lines.append(
            f"{str(alert.get('raised_at', ''))[:19]}  {alert.get('use_case')}  "
            f"{alert.get('kind')}  {str(alert.get('severity', '')).upper()}  "
            f"{_one_line(alert.get('summary', ''))}"
        )
        shown = by_alert.get(str(alert.get("id", alert.get("raised_at"))), [])
        if undelivered:
            shown = [d for d in shown if d.status == "undelivered"]
        lines += [f"    {delivery_line(d)}" for d in shown]
        if not shown:
            lines.append("    kept in the alert file (no delivery recorded)")
    if len(alerts) > limit:
        lines.append(f"... {len(alerts) - limit} earlier alert(s) (--limit N shows more)")
    return "\n".join(lines)


def delivery_line(delivery: Delivery) -> str:
    from modelops.formatting import quoted

    where = delivery.channel if delivery.channel != "email" else f"email {delivery.recipient}"
    tries = f"{delivery.attempts} attempt(s)"
    if delivery.status == "delivered":
        return f"{where}: delivered ({tries})"
    return f"{where}: UNDELIVERED after {tries}: {quoted(delivery.last_error or 'unknown')}"


def _retry(sink: AlertSink, use_case: str | None) -> int:
    outbox = sink.outbox()
    pending = outbox.undelivered(use_case) if outbox else []
    if not pending:
        print("nothing undelivered" + (f" for {use_case}" if use_case else ""))
        return 0
    left = 0
    for delivery in pending:
        after = sink.redeliver(delivery)
        left += after.status == "undelivered"
        print(f"{delivery.use_case} {delivery.alert.get('kind')}: {delivery_line(after)}")
    print(
        f"{len(pending) - left} of {len(pending)} delivered"
        + (f"; {left} still not" if left else "")
    )
    return 1 if left else 0


def _one_line(text: object) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
