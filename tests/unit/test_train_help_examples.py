"""`wildgan train --help`'s examples: a comment that promises a few minutes on a CPU heads only commands of the tiny
preset, not the defaults (the fast preset, the paper's schedule), which the README's quick tour says take hours on a
CPU. A newcomer who copies the first example expecting a quick try must not start an hours-long training."""

from __future__ import annotations


def test_train_help_says_a_few_minutes_only_of_the_tiny_try() -> None:
    # cli/parser.py:EXAMPLES_TRAIN: every command under a comment that says 'a few minutes' uses --preset tiny; a
    # command with the defaults (e.g. `wildgan train --data my_images/ --out runs/mine`) must not stand under it
    from wildgan.cli.parser import EXAMPLES_TRAIN

    blocks: list[tuple[str, list[str]]] = []
    for line in EXAMPLES_TRAIN.splitlines()[1:]:
        text = line.strip()
        if text.startswith("#"):
            if blocks and not blocks[-1][1]:
                blocks[-1] = (blocks[-1][0] + " " + text.lstrip("# "), [])   # (a comment over two lines)
            else:
                blocks.append((text.lstrip("# "), []))
        elif text.startswith("wildgan ") and blocks:
            blocks[-1][1].append(text)
    minutes = [(comment, commands) for comment, commands in blocks if "a few minutes" in comment]
    assert minutes, blocks
    for comment, commands in minutes:
        slow = [c for c in commands if "--preset tiny" not in c]
        assert not slow, f"{comment!r} heads {slow}, the defaults: hours on a CPU (README, Quick tour)"
