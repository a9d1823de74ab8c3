"""The reason-faithfulness gate: the reasons an applicant is given must be the features that
really pushed the score, measured on the holdout at evaluation (`ml/explanations`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelops.ml.release_gates.gates import Figure, Verdict

if TYPE_CHECKING:
    from modelops.ml.explanations.faithfulness import FaithfulnessRecord
    from modelops.ml.release_gates.plan import GatePlan


def reason_faithfulness(plan: GatePlan, record: FaithfulnessRecord | None) -> Verdict:
    """Passes when not gated (the share is still shown), or when the measured share of rows
    whose stated top reasons are their largest true contributions reaches the plan's minimum."""
    minimum = plan.reason_faithfulness_min
    limits: dict[str, Figure] = {"reason_faithfulness_min": minimum}
    share = record.share if record is not None else None
    measured: dict[str, Figure] = {"faithful_share": share}
    if record is None:
        measured["method"] = None
        return Verdict(
            minimum is None,
            "not measured (the evaluation holds no explanation)"
            + ("" if minimum is None else f"; at least {minimum:.2f} required"),
            measured,
            limits,
            "",
        )
    measured["method"] = f"{record.reason_method} ({record.method})"
    shown = "undefined" if share is None else f"{share:.3f}"
    what = f"stated reasons are the largest true contributions on {shown} of {record.rows} rows"
    if minimum is None:
        return Verdict(True, f"{what}; not gated at this tier", measured, limits, "")
    passed = share is not None and share >= minimum - 1e-12
    relation = ">=" if passed else "<"
    return Verdict(passed, f"{what} {relation} {minimum:.2f} required", measured, limits, "")
