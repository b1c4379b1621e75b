"""Scoring: anomaly scores for images from trained (or untrained) networks. Higher = more anomalous."""

from .pgan_scores import ScoreResult, batch_order, score_pgan, score_pgan_sharded
from .scores import SCORE_NAMES, SCORES_VERSION, all_scores

__all__ = ["score_pgan", "score_pgan_sharded", "ScoreResult", "batch_order", "all_scores", "SCORE_NAMES",
           "SCORES_VERSION"]
