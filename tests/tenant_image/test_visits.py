from __future__ import annotations

import os
from pathlib import Path

import pytest
from cial_core.back.visits import VisitCounter, VisitStoreError


class TestVisitCounter:
    def test_starts_at_zero_without_a_file(self, tmp_path: Path) -> None:
        assert VisitCounter(tmp_path).read() == 0

    def test_increment_persists_for_a_new_counter_on_the_same_directory(self, tmp_path: Path) -> None:
        counter = VisitCounter(tmp_path)
        assert [counter.increment() for _ in range(3)] == [1, 2, 3]
        assert VisitCounter(tmp_path).read() == 3

    def test_leaves_no_temporary_file_behind(self, tmp_path: Path) -> None:
        VisitCounter(tmp_path).increment()
        assert sorted(os.listdir(tmp_path)) == ["visits.json"]

    @pytest.mark.parametrize("content", ["not json", "[]", '{"visits": -1}', '{"visits": "3"}', "{}"])
    def test_a_damaged_file_is_reported_with_its_path(self, tmp_path: Path, content: str) -> None:
        (tmp_path / "visits.json").write_text(content)
        with pytest.raises(VisitStoreError, match=r"visits\.json"):
            VisitCounter(tmp_path).read()

    def test_an_unwritable_directory_is_reported_and_the_old_count_kept(self, tmp_path: Path) -> None:
        counter = VisitCounter(tmp_path / "missing")
        with pytest.raises(VisitStoreError, match="cannot write"):
            counter.increment()
