"""Evaluation: ROC AUC / AP of every score with the controls (untrained networks, pixel statistics), and what an AUC
is worth on its test set (DeLong's interval and paired test)."""

from .metrics import auc_ci, auc_difference, average_precision, evaluate_scores, pixel_statistics, roc_auc

__all__ = ["roc_auc", "auc_ci", "auc_difference", "average_precision", "evaluate_scores", "pixel_statistics"]
