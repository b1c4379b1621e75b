"""`wildgan train` of a tiny run on conftest's tiny_npz, as the tests of stops during training run it
(test_stop_requests, test_signals_left_to_the_caller): a signal is raised from inside a checkpoint's write, and the
command's exit code and files say how the stop was taken."""

from __future__ import annotations

from pathlib import Path

from wildgan.cli import main


def train_tiny(tiny_npz: Path, out: Path) -> int:
    """`wildgan train` of 0.1 kimg into out (its last checkpoint ckpt-000000000128, written as training ends): its
    exit code."""
    return main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.1",
                 "--phase-kimg", "0.03", "--no-progress", "--no-train-scores", "--threads", "1", "--out", str(out)])


def train_tiny_with_a_periodic_checkpoint(tiny_npz: Path, out: Path) -> int:
    """`wildgan train` of 0.15 kimg into out, with a periodic checkpoint before its end: its exit code."""
    # (0.1 kimg is two rounds of 64 images, and the default interval, at least 1 kimg, writes no checkpoint before the
    # end's: a stop asked in the first round's checkpoint would find the training complete. Here: the checkpoint at
    # 64, then the stop's at 128 of 150)
    return main(["train", "--data", str(tiny_npz), "--normal", "0", "--preset", "tiny", "--total-kimg", "0.15",
                 "--phase-kimg", "0.03", "--checkpoint-kimg", "0.05", "--no-progress", "--no-train-scores", "--threads",
                 "1", "--out", str(out)])
