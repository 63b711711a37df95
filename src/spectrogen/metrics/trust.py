"""Whether the feature network's figures can be trusted: FID, KID, IS, precision and recall are only
as meaningful as the network that embeds the spectrograms.

A classifier trained on the data set (by `evaluate` itself, or `--train-classifier`) reports its
accuracy on examples it did not train on. When that accuracy is near chance, or measured on a
handful of examples, its features do not separate what the data set holds, and distances between
feature distributions say little about the samples. `feature_trust` says so, with what to do.
"""

from __future__ import annotations

from typing import Any

MIN_HELD_OUT = 20  # below this many held-out examples one mistake moves the accuracy by more than 5 points
# accuracy at least halfway from chance to perfect: a network below it confuses a good share of its own
# classes, so its features mix them (2 classes: 0.75, 4: 0.625, 10: 0.55)
CLEARLY_ABOVE_CHANCE = 0.5
FEATURE_METRICS = ("fid", "kid", "kid_std", "is", "is_std", "is_real", "is_real_std", "precision", "recall",
                   "class_accuracy", "type_coverage", "recognised")
ADVICE = ("record more examples of each class (a few dozen or more), or pass --classifier PATH: a feature "
          "network made by `spectrogen evaluate --train-classifier DATA --out CLASSIFIER.pt` on a larger "
          "data set of the same kind of sound")


def feature_trust(described: dict[str, Any]) -> dict[str, Any]:
    """Returns {held_out_accuracy, held_out_examples, chance, meaningful, reason} for a feature network's
    `describe()`; networks without a held-out measurement (Inception) are taken as meaningful."""
    heldout = described.get("heldout") or {}
    classes = len(described.get("class_names") or [])
    accuracy, count = heldout.get("accuracy"), heldout.get("count")
    trust: dict[str, Any] = {"held_out_accuracy": accuracy, "held_out_examples": count,
                             "chance": 1.0 / classes if classes else None, "meaningful": True, "reason": None}
    if described.get("kind") != "supervised":
        return trust
    if classes < 2:
        trust["reason"] = ("the data set has one class, so the feature network learnt nothing that tells "
                           "spectrograms apart")
    elif accuracy is None or not count:
        trust["reason"] = "the feature network was measured on no held-out examples"
    elif count < MIN_HELD_OUT:
        trust["reason"] = (f"the feature network's held-out accuracy ({accuracy:.2f}) was measured on only {count} "
                           f"examples (at least {MIN_HELD_OUT} are needed)")
    elif accuracy < trust["chance"] + CLEARLY_ABOVE_CHANCE * (1.0 - trust["chance"]):
        trust["reason"] = (f"the feature network's held-out accuracy ({accuracy:.2f} on {count} examples) is near "
                           f"chance ({trust['chance']:.2f} for {classes} classes)")
    trust["meaningful"] = trust["reason"] is None
    return trust


def warning_lines(trust: dict[str, Any]) -> list[str]:
    """Returns the lines `evaluate` prints first when the figures cannot be trusted (none when they can)."""
    if trust.get("meaningful", True):
        return []
    return [f"warning: {trust['reason']}: FID, KID, IS, precision and recall below are NOT MEANINGFUL.",
            f"  what to do: {ADVICE}"]


def flag_result(result) -> None:
    """Marks the feature-network metrics of an EvaluationResult as not meaningful when its network is not trusted."""
    trust = feature_trust(result.info.get("feature_network") or {})
    flagged = [name for name in FEATURE_METRICS if name in result.metrics] if not trust["meaningful"] else []
    result.info["feature_trust"] = {**trust, "not_meaningful": flagged}
