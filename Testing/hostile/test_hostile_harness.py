"""The hostile suite's own checks catch what they are meant to catch."""

from __future__ import annotations

import pytest
from hostile import assertRefused, fileHashes, guarded, runCommand


def test_guarded_catches_a_modified_input(tmp_path):
    source = tmp_path / "input.csv"
    source.write_text("patient\nP1\n")
    with pytest.raises(AssertionError, match="modified"):
        with guarded([source]):
            source.write_text("patient\nP2\n")


def test_guarded_catches_a_marker_and_a_leaked_identifier(tmp_path):
    source, marker, out = tmp_path / "input.csv", tmp_path / "marker", tmp_path / "out"
    source.write_text("x")
    out.mkdir()
    with pytest.raises(AssertionError, match="payload ran"):
        with guarded([source], markers=[marker]):
            marker.touch()
    with pytest.raises(AssertionError, match="DOE"):
        with guarded([source], outputs=[out]):
            (out / "table.csv").write_text("name\nDOE^JANE\n")


def test_links_are_hashed_by_target_not_followed(tmp_path):
    (tmp_path / "link").symlink_to("/etc/passwd")
    assert fileHashes([tmp_path]) == {str(tmp_path / "link"): "link:/etc/passwd"}


def test_a_bad_option_is_refused_without_traceback():
    result = runCommand("report", "some-folder", "--no-such-option")
    assertRefused(result, "unrecognized arguments", code=2)
