"""bench/query_access.py's smoke run: the whole query per asker, and no asker sees a document the
database says they may not read (the benchmark's own leak check, on its own SQLite file)."""
import os

import pytest


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                    reason="the benchmark writes its own SQLite file: the SQLite run covers it")
def test_quick_mode_runs_and_no_asker_sees_a_hidden_document(tmp_path, monkeypatch, capsys):
    """Built with ``--keep --build-only`` (as the 1M build is, on a busy machine), then measured
    from the kept instance, as a later run on a quiet machine does."""
    from bench import query_access

    monkeypatch.setenv("TRIBUTARY_INSTANCE_PATH", str(tmp_path))
    common = ["--quick", "--no-wait", "--cache", str(tmp_path / "no-cache"), "--keep", str(tmp_path / "kept")]
    assert query_access.main(common + ["--build-only"]) == []
    assert "index ready" in capsys.readouterr().out
    rows = query_access.main(common)
    assert "reused from" in capsys.readouterr().out
    by_asker = {row["asker"]: row for row in rows}
    assert set(by_asker) == {"unfiltered", "1 %", "4 %", "50 %", "100 %"}
    size = query_access.QUICK_SIZE
    assert by_asker["unfiltered"]["allowed"] == by_asker["100 %"]["allowed"] == size
    assert 0 < by_asker["1 %"]["allowed"] < 0.03 * size  # 2 of 200 lists, by a hash
    assert by_asker["1 %"]["allowed"] < by_asker["4 %"]["allowed"] < 0.08 * size  # 8 of 200
    assert 0.4 * size < by_asker["50 %"]["allowed"] < 0.6 * size
    for row in rows:
        assert row["leaks"] == 0, row
        assert row["recall"] >= 0.95, row  # the exact index at this size: recall 1 but for ties
        assert row["p50"] > 0 and row["cpu"] > 0
