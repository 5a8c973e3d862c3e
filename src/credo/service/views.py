"""What each party may learn: a provider the decision and its public reasons, a subject everything."""

from __future__ import annotations

from typing import Any

from credo.rules.model import Rulebook
from credo.semantics import Decision


def public_decision(decision: Decision, decision_id: str, rulebook: Rulebook) -> dict[str, Any]:
    """The provider's view: allow or deny, each measure's detail, basis and latest end; never the
    score or the records."""
    measures = []
    for measure in decision.measures:
        ends = [reason.get("until") for reason in measure.reasons if "list" in reason and not reason.get("negated")]
        until = None if not ends or None in ends else max(str(end) for end in ends)
        measures.append({"measure": measure.measure, "effect": measure.effect, "detail": measure.detail,
                         "basis": measure.basis, "until": until})  # fmt: skip
    return {
        "decision_id": decision_id,
        "subject": decision.subject,
        "action": decision.action,
        "at": decision.at,
        "decision": decision.decision,
        "measures": measures,
        "appeal": (
            "The subject can read every reason at GET /v1/me/explanation and dispute any record; "
            f"the operator must answer a dispute within {rulebook.appeals.respond_within}."
        ),
    }
