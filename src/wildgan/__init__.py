"""wildgan: unsupervised image anomaly detection with GANs trained on contaminated data."""

__version__ = "0.1.0"

from .detector import Detector, NotFittedError  # noqa: E402,F401
