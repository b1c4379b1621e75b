"""Data layer: readers (folders, .tar.gz, CIFAR-10 batches, .npz), pixel conversion, anomaly splits.

Its modules, each importing only those before it: transforms (pixels: conversion, 16-bit rules), download (CIFAR-10,
unpacking archives), imageset (ImageSet, the read options, the warnings about a set read), dataset_files (CIFAR-10
batches, .npz, tar archives), image_decode (one image file), decode_pool (many files, in a pool of processes; memory),
readers (the entry point: data root, format detection, folder trees and piles, load_dataset / load_images /
iter_images), source_identity (which bytes a split was read from, told without decoding), splits (anomaly splits
of a loaded data set), inputs (the Python API's images in memory, paths and
folders -> uint8 images, for wildgan.Detector; not imported here).

Imports only wildgan.config / wildgan.errors / wildgan.fileio and numpy + PIL (torch only inside to_float).
"""

from .download import download_cifar10
from .imageset import ImageSet
from .readers import default_sample_path, load_dataset, load_image_files, load_images, resolve_data_root
from .splits import (AnomalySplit, LoadedData, build_split, conversion_opts, load_split_data, n_contamination,
                     newly_skipped, recorded_normal_classes, skipped_reasons, split_differences, split_summary)
from .transforms import to_float

__all__ = [
    "AnomalySplit", "ImageSet", "LoadedData", "build_split", "conversion_opts", "default_sample_path",
    "download_cifar10", "load_dataset", "load_image_files", "load_images", "load_split_data", "n_contamination",
    "newly_skipped", "recorded_normal_classes", "resolve_data_root", "skipped_reasons", "split_differences",
    "split_summary", "to_float",
]
