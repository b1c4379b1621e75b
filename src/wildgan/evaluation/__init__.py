"""Evaluation: ROC AUC / AP of every score with the controls (untrained networks, pixel statistics), and what an AUC
is worth on its test set (an interval, and paired tests: DeLong's, or a permutation test on a few images)."""

from .metrics import auc_ci, auc_difference, average_precision, evaluate_scores, pixel_statistics, roc_auc

__all__ = ["roc_auc", "auc_ci", "auc_difference", "average_precision", "evaluate_scores", "pixel_statistics"]
