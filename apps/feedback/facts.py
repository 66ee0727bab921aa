"""Facts derived from a judgment when it is stored: which canonical position was shown first,
and, for a decisive verdict, which response won and which lost. Pure: no database."""

from apps.feedback.payloads import strength_step


def derived_facts(*, payload: dict, display_order: list[int], position_of: dict[int, int]) -> dict:
    """`position_of` maps the task's response ids to their canonical positions."""
    response_at = {position: response_id for response_id, position in position_of.items()}
    facts = {
        "first_shown_position": position_of.get(display_order[0]) if display_order else None,
        "chosen_position": None,
        "chosen_response_id": None,
        "rejected_response_id": None,
        "signed_strength": signed_strength(payload),
    }
    choice = payload.get("choice")
    if choice in ("A", "B") and len(response_at) == 2:
        chosen = 0 if choice == "A" else 1
        facts.update(
            chosen_position=chosen,
            chosen_response_id=response_at[chosen],
            rejected_response_id=response_at[1 - chosen],
        )
    elif (ranks := payload.get("ranks")) and ranks.count(1) == 1:
        facts["chosen_position"] = ranks.index(1)
    return facts


def signed_strength(payload: dict) -> float | None:
    """A pairwise verdict as one number: +1..+4 for A better, -1..-4 for B, 0 for a tie;
    both-bad (and anything not pairwise) has no place on that scale."""
    choice = payload.get("choice")
    if choice == "tie":
        return 0.0
    if choice in ("A", "B"):
        step = strength_step(payload.get("strength")) or 1
        return float(step if choice == "A" else -step)
    return None
