"""score --distributed (scoring.run.score_files with a torchrun context): every process lists the image files on
its own, and rank 0 names the scores it gathers by file index from its own list. Processes that listed different
files (a folder still being written to, a node's own copy of the data) are stopped on every rank, naming how the
lists differ; before, the CSV had scores under other files' names and images dropped, without a word. Rank 0 of 2
is played here: its context made by hand, the other rank's answers stubbed in the all-gather."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.distributed as tdist

from wildgan.data.readers import list_image_files
from wildgan.errors import DataError
from wildgan.scoring import run as scoring
from wildgan.training.distributed import DistContext


def _rank_0() -> DistContext:
    return DistContext(rank=0, world=2, local_rank=0, device=torch.device("cpu"), backend="gloo", job="job-a")


def _other_rank_lists(monkeypatch: pytest.MonkeyPatch, theirs: Callable[[list[str]], list[str]] | None) -> list[Any]:
    """The other rank answering each all-gather: its file list `theirs(mine)` (None: the same as this rank's), and
    nothing scored or failed in the scores' gather. Returns what this rank sent, in order."""
    sent: list[Any] = []

    def gather(out: list, mine: Any, group: Any = None) -> None:
        sent.append(mine)
        if isinstance(mine, tuple) and len(mine) == 2:          # (count, digest) of the file list
            out[:] = [mine, mine if theirs is None else (mine[0] + 1, "another digest")]
        elif isinstance(mine, list):                           # the names, asked once the lists differ
            out[:] = [mine, theirs(mine)]                      # type: ignore[misc]
        else:                                                  # the scores: the other rank scored nothing
            out[:] = [mine, ([], [], None, 0, {})]

    monkeypatch.setattr(tdist, "all_gather_object", gather)
    return sent


def test_processes_that_listed_other_files_stop_naming_how(scoring_pile: Callable,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pile, _, model = scoring_pile(8)          # (score batches of 4: two chunks, one per rank)
    _other_rank_lists(monkeypatch, lambda mine: ["00-new.png", *mine])
    with pytest.raises(DataError) as e:
        scoring.score_files(model, [pile], ctx=_rank_0())
    said = str(e.value)
    assert said.startswith(f"the processes found different image files in {pile} (rank 1: 9 files (rank 0: 8); file "
                           f"1 is '0.png' on rank 0, '00-new.png' on rank 1)"), said
    assert "scores are written under other files' names" in said


def test_a_file_missing_at_the_end_of_one_rank_s_list_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                scoring_pile: Callable) -> None:
    pile, _, _ = scoring_pile(3)
    _other_rank_lists(monkeypatch, lambda mine: mine[:-1])
    with pytest.raises(DataError, match=r"rank 1: 2 files \(rank 0: 3\); file 3 is '2.png' on rank 0, rank 1 none"):
        scoring._same_files_on_every_rank(_rank_0(), [pile], [], [])


def test_the_same_files_under_another_root_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 scoring_pile: Callable) -> None:
    """Nodes holding the same tree under other mount points list the same files: compared by their place under the
    path given, only the count and a digest sent."""
    pile, _, _ = scoring_pile(3)
    other = tmp_path / "elsewhere"
    other.symlink_to(pile, target_is_directory=True)
    keys = []
    for root in (pile, other):
        origins: list[int] = []
        sent = _other_rank_lists(monkeypatch, None)
        files = scoring._same_files_on_every_rank(_rank_0(), [root], [], origins)
        assert files == list_image_files([root]) and origins == [0, 0, 0]
        assert len(sent) == 1 and sent[0][0] == 3          # one gather, of (count, digest): no names sent
        keys.append(sent[0])
    assert keys[0] == keys[1]



def test_a_listing_that_failed_on_one_rank_is_raised_on_every_rank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   scoring_pile: Callable) -> None:
    """A node without the folder (or with none of its images): its rank raised alone, before the agreement, and the
    others waited for it there, to meet only the closed connection of a rank gone. Now each rank says how its listing
    went: the rank that failed raises its own error, the others that rank's error, of its class."""
    pile, _, model = scoring_pile(3)
    sent: list[Any] = []

    def rank_1_failed(out: list, mine: Any, group: Any = None) -> None:
        sent.append(mine)
        out[:] = [mine, (None, f"rank 1: {tmp_path / 'gone'}: no such file or folder", "DataError")]

    monkeypatch.setattr(tdist, "all_gather_object", rank_1_failed)
    with pytest.raises(DataError, match=r"^rank 1: .*gone: no such file or folder$"):
        scoring.score_files(model, [pile], ctx=_rank_0())
    assert len(sent) == 1 and sent[0][0] == 3                # rank 0 listed its 3 files and said so

    def rank_1_listed(out: list, mine: Any, group: Any = None) -> None:
        sent.append(mine)
        out[:] = [mine, (3, "a digest")]

    sent.clear()
    monkeypatch.setattr(tdist, "all_gather_object", rank_1_listed)
    with pytest.raises(DataError, match="no such file or folder") as e:
        scoring.score_files(model, [tmp_path / "gone"], ctx=_rank_0())
    # this rank's own error (naming its path), after it told the others in the one agreement
    assert str(tmp_path / "gone") in str(e.value) and len(sent) == 1 and sent[0][0] is None


def test_lists_of_many_files_given_name_a_few_of_them(monkeypatch: pytest.MonkeyPatch,
                                                      scoring_pile: Callable) -> None:
    """`--data imgs/*.png`: the shell gives each file as its own path, and the refusal named every one of them (a
    message of thousands of paths); now the first three and how many more."""
    pile, _, _ = scoring_pile(6)
    given = sorted(pile.iterdir())
    _other_rank_lists(monkeypatch, lambda mine: mine[:-1])
    with pytest.raises(DataError) as e:
        scoring._same_files_on_every_rank(_rank_0(), given, [], [])
    said = str(e.value)
    assert f"image files in {given[0]}, {given[1]}, {given[2]} and 3 more paths (rank 1: 5 files" in said, said
    assert str(given[3]) not in said
