"""Evaluation: ROC AUC / AP of every score with the controls (untrained networks, pixel statistics)."""

from .metrics import average_precision, evaluate_scores, pixel_statistics, roc_auc

__all__ = ["roc_auc", "average_precision", "evaluate_scores", "pixel_statistics"]
