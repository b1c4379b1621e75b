"""Scoring: anomaly scores for images from trained (or untrained) networks. Higher = more anomalous."""

from .pgan_scores import ScoreResult, batch_order, score_pgan
from .scores import SCORE_NAMES, all_scores

__all__ = ["score_pgan", "ScoreResult", "batch_order", "all_scores", "SCORE_NAMES"]
