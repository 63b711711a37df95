"""Figures of a feature network that cannot be trusted are marked not meaningful, first and everywhere."""

import json

import numpy as np
import pytest

from spectrogen.metrics.evaluate import EvaluationResult
from spectrogen.metrics.table import format_table, write_metrics
from spectrogen.metrics.trust import (MIN_EXAMPLES_PER_CLASS, MIN_HELD_OUT, MIN_PSEUDO_CLASSES, feature_trust,
                                      flag_result)


def network(accuracy, count, classes=2, kind="supervised", examples=None, class_counts=None):
    training = {} if examples is None else {"examples": examples}
    if class_counts is not None:
        training["class_counts"] = class_counts
    return {"kind": kind, "class_names": [f"c{k}" for k in range(classes)],
            "heldout": {"accuracy": accuracy, "count": count}, "training": training}


@pytest.mark.parametrize("described, meaningful", [
    (network(0.25, 4), False),  # below chance, on four examples
    (network(1.0, MIN_HELD_OUT - 1), False),  # perfect, but on too few examples to say
    (network(0.6, 100), False),  # 2 classes: 0.6 is not clearly above chance (0.5)
    (network(0.9, 100), True),
    (network(0.6, 100, classes=10), True),  # 10 classes: chance 0.1, halfway to perfect 0.55
    (network(1.0, 50, classes=1), False),  # one class: nothing learnt that tells spectrograms apart
    ({"kind": "inception", "class_names": [], "heldout": {}}, True),  # no held-out measurement to judge by
    # contrastive networks are judged too: their pseudo-classes must be many enough to be a task
    (network(0.99, 100, classes=MIN_PSEUDO_CLASSES - 1, kind="contrastive", examples=400), False),
    (network(0.9, 100, classes=MIN_PSEUDO_CLASSES, kind="contrastive", examples=400), True),
    (network(0.3, 100, classes=10, kind="contrastive", examples=400), False),  # chance 0.1: needs 0.55
    # too few training examples per class: the network learns those clips, not the class
    (network(0.95, 100, classes=4, examples=4 * MIN_EXAMPLES_PER_CLASS - 4), False),
    (network(0.95, 100, classes=4, examples=4 * MIN_EXAMPLES_PER_CLASS), True),
    (network(0.95, 100, classes=4, examples=400, class_counts=[200, 190, 5, 5]), False),  # the smallest counts
])
def test_trust_follows_the_task_the_held_out_accuracy_against_chance_and_the_examples_behind_it(described,
                                                                                                meaningful):
    assert feature_trust(described)["meaningful"] is meaningful


def test_a_contrastive_network_with_three_pseudo_classes_is_not_trusted_however_accurate():
    # 80 unlabelled clips: 64 to train on, 3 k-means clusters of its own embedding, 0.94 on 16 held out
    described = network(0.94, 16, classes=3, kind="contrastive", examples=64, class_counts=[30, 20, 14])
    trust = feature_trust(described)
    assert trust["meaningful"] is False
    assert "only 3 k-means pseudo-classes" in trust["reason"] and "only 14 examples" in trust["reason"]
    assert "only 16 examples" in trust["reason"]
    result = EvaluationResult(metrics={"fid": 3.0, "precision": 0.90, "recall": 0.78, "artifact_ratio": 9.0},
                              info={"feature_network": described})
    flag_result(result)
    assert set(result.info["feature_trust"]["not_meaningful"]) == {"fid", "precision", "recall"}
    table = format_table(result).splitlines()
    assert table[0].startswith("warning:") and "pseudo-classes" in table[0] and "NOT MEANINGFUL" in table[0]
    rows = {line.split()[0]: line for line in table if line and line.split()[0] in result.metrics}
    assert "NOT MEANINGFUL" in rows["precision"] and "NOT MEANINGFUL" not in rows["artifact_ratio"]


def test_an_untrusted_network_is_said_first_and_marked_in_the_table_and_the_file_and_a_trusted_one_is_not(tmp_path):
    result = EvaluationResult(metrics={"fid": 12.0, "is": 1.4, "is_real": 1.9, "ndb": 3.0},
                              info={"feature_network": network(0.25, 4)})
    flag_result(result)
    table = format_table(result).splitlines()
    assert table[0].startswith("warning:") and "near chance" not in table[0] and "only 4 examples" in table[0]
    assert "--classifier PATH" in table[1]
    rows = {line.split()[0]: line for line in table if line and line.split()[0] in result.metrics}
    assert all("NOT MEANINGFUL" in rows[name] for name in ("fid", "is", "is_real"))
    assert "NOT MEANINGFUL" not in rows["ndb"]  # bins of pixels, not of the network's features
    saved = json.loads(write_metrics(result, tmp_path).read_text())
    assert saved["feature_trust"]["meaningful"] is False
    assert set(saved["feature_trust"]["not_meaningful"]) == {"fid", "is", "is_real"}
    # a trusted network adds no warning
    result = EvaluationResult(metrics={"fid": 12.0}, info={"feature_network": network(0.95, 200, classes=4)})
    flag_result(result)
    assert result.info["feature_trust"]["meaningful"] and not result.info["feature_trust"]["not_meaningful"]
    assert not format_table(result).startswith("warning")
    assert np.isclose(result.info["feature_trust"]["chance"], 0.25)
