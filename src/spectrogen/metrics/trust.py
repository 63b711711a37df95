"""Whether the feature network's figures (FID, KID, IS, precision, recall) can be trusted: with too few classes
its task was trivial, with too few examples per class it learnt those examples, and near chance (or measured
on a handful) its features do not separate what the data set holds."""

from __future__ import annotations

from typing import Any

MIN_HELD_OUT = 20  # below this many held-out examples one mistake moves the accuracy by more than 5 points
# accuracy at least halfway from chance to perfect: a network below it confuses a good share of its own
# classes, so its features mix them (2 classes: 0.75, 4: 0.625, 10: 0.55)
CLEARLY_ABOVE_CHANCE = 0.5
# fewer k-means pseudo-classes than this are told apart by any embedding: a high accuracy says nothing
MIN_PSEUDO_CLASSES = 5
# below this many training examples of a class a network can learn each one by heart (the quick
# classifier sees every example 5 times)
MIN_EXAMPLES_PER_CLASS = 20
JUDGED_KINDS = ("supervised", "contrastive")  # the networks spectrogen trains and measures itself
FEATURE_METRICS = ("fid", "kid", "kid_std", "is", "is_std", "is_real", "is_real_std", "precision", "recall",
                   "class_accuracy", "type_coverage", "recognised")
ADVICE = ("record more examples of each class (a few dozen or more), or pass --classifier PATH: a feature "
          "network made by `spectrogen evaluate --train-classifier DATA --out CLASSIFIER.pt` on a larger "
          "data set of the same kind of sound")


def feature_trust(described: dict[str, Any]) -> dict[str, Any]:
    """Returns {held_out_accuracy, held_out_examples, chance, classes, least_examples_per_class, meaningful,
    reason} of a feature network's `describe()`; networks spectrogen did not train are taken as meaningful."""
    heldout = described.get("heldout") or {}
    classes = len(described.get("class_names") or [])
    accuracy, count = heldout.get("accuracy"), heldout.get("count")
    training = described.get("training") or {}
    counts, examples = training.get("class_counts"), training.get("examples")
    # the training examples of the network's smallest class (the mean when only a total is known)
    least = float(min(counts)) if counts else (examples / classes if examples and classes else None)
    trust: dict[str, Any] = {"held_out_accuracy": accuracy, "held_out_examples": count,
                             "chance": 1.0 / classes if classes else None, "classes": classes,
                             "least_examples_per_class": least, "meaningful": True, "reason": None}
    if described.get("kind") not in JUDGED_KINDS:
        return trust
    reasons = []  # first why the network's task was too easy or too thin to learn features from
    if described.get("kind") == "supervised" and classes < 2:
        reasons.append("the data set has one class, so the feature network learnt nothing that tells "
                       "spectrograms apart")
    elif described.get("kind") == "contrastive" and classes < MIN_PSEUDO_CLASSES:
        reasons.append(f"the contrastive feature network tells apart only {classes} k-means pseudo-classes of "
                       f"its own embedding (at least {MIN_PSEUDO_CLASSES} are needed: fewer are told apart by "
                       f"any embedding, so its held-out accuracy says nothing)")
    if least is not None and least < MIN_EXAMPLES_PER_CLASS:
        reasons.append(f"the feature network trained on only {least:.0f} examples of its smallest class (at least "
                       f"{MIN_EXAMPLES_PER_CLASS} are needed, or it learns those examples, not the class)")
    if accuracy is None or not count:
        reasons.append("the feature network was measured on no held-out examples")
    elif count < MIN_HELD_OUT:
        reasons.append(f"the feature network's held-out accuracy ({accuracy:.2f}) was measured on only {count} "
                       f"examples (at least {MIN_HELD_OUT} are needed)")
    elif classes >= 2 and accuracy < trust["chance"] + CLEARLY_ABOVE_CHANCE * (1.0 - trust["chance"]):
        reasons.append(f"the feature network's held-out accuracy ({accuracy:.2f} on {count} examples) is near "
                       f"chance ({trust['chance']:.2f} for {classes} classes)")
    trust["reason"] = "; ".join(reasons) or None
    trust["meaningful"] = not reasons
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
