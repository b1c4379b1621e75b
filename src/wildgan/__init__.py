"""wildgan: unsupervised image anomaly detection with GANs trained on contaminated data."""

__version__ = "0.1.0"

# the base classes of wildgan's errors and warnings, for `except wildgan.WildganError:` and warning filters, as
# docs/python_api.md names them (the errors themselves, ConfigError, DataError ..., are in wildgan.errors)
from .errors import WildganError, WildganWarning  # noqa: E402  (torch-free: errors.py imports nothing)

__all__ = ["Detector", "HeatMaps", "NotFittedError", "WildganError", "WildganWarning", "__version__"]


def __getattr__(name: str):  # noqa: ANN202 -- PEP 562: `import wildgan` (and the CLI) stay light, without torch
    if name in ("Detector", "HeatMaps", "NotFittedError"):
        from . import detector

        return getattr(detector, name)
    raise AttributeError(f"module 'wildgan' has no attribute {name!r}")
