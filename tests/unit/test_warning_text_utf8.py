"""A warning that names a file whose name is not UTF-8 (os.fsdecode keeps its bytes as lone surrogates: b'd\\xe9faut'
is 'd\\udce9faut') must itself be valid UTF-8 text: pytest-xdist could not carry such a warning from a worker to its
controller (execnet's UnicodeEncodeError ended the whole test run, the report test of photo59's Latin-1 name in CI),
nor can a UTF-8 log file that logging.captureWarnings writes it to. The name is written as Python's stderr writes it."""

from __future__ import annotations

import warnings

from wildgan.errors import WildganWarning, utf8_safe, warn_user


def test_a_warning_naming_a_latin1_file_is_utf8_text_that_still_shows_the_byte() -> None:
    name = b"new/d\xe9faut.png".decode("utf-8", "surrogateescape")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warn_user(f"{name}: 16x16, the training images were 8x8")
    (w,) = [w for w in seen if issubclass(w.category, WildganWarning)]
    text = str(w.message)
    assert text.encode("utf-8").decode("utf-8") == text          # (raised UnicodeEncodeError before)
    assert text == "new/d\\udce9faut.png: 16x16, the training images were 8x8", text


def test_utf8_text_is_left_as_it_is() -> None:
    text = "défaut — 日本.png"
    assert utf8_safe(text) is text
