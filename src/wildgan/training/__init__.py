"""Training: the progressive schedule and the joint G/D/E loop (and the f-AnoGAN baseline's loop)."""

from .loop import TrainingInterrupted, TrainResult, train_pgan
from .schedule import Phase, schedule

__all__ = ["train_pgan", "TrainResult", "TrainingInterrupted", "schedule", "Phase"]
