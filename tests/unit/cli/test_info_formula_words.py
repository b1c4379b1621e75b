"""`wildgan info`'s last line prices a training image as 7g + 14d + 3e. It cited "spec 8.2", a document that is not in
the repository, so a user could not tell what g, d and e were; the line now names them (the forward GFLOP of G, D and
E in the table above it), and the total it prints is that formula of the table's own numbers."""

from __future__ import annotations

import pytest

from wildgan.cli import main


def test_info_says_what_g_d_e_are_and_its_total_is_their_formula(capsys: pytest.CaptureFixture) -> None:
    assert main(["info", "--preset", "fast", "--resolution", "32", "--channels", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    last = lines[-1]
    assert "spec" not in last, last
    assert "(7g + 14d + 3e, with g, d, e the forward GFLOP of G, D, E above)" in last, last
    fwd = {row.split()[0]: float(row.split()[-1]) for row in lines if row.split()[0] in ("G", "D", "E")}
    total = float(last.rsplit(": ", 1)[1])
    # (the table rounds each forward cost to 0.001 GFLOP, the total is printed to 0.01)
    assert total == pytest.approx(7 * fwd["G"] + 14 * fwd["D"] + 3 * fwd["E"], abs=0.03), (fwd, total)
