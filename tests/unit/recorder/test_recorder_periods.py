from recorder._periods import GAP_TOLERANCE_MS, merge_spans


def test_adjacent_segments_merge_and_gaps_stay_visible() -> None:
    # segment cuts abut or overlap a little (the wall-clock mapping is refined); a
    # reconnect of a second is a hole
    spans = [(0, 10_000), (10_000, 20_000), (19_960, 30_000), (31_000, 40_000)]
    assert merge_spans(spans, 0, 100_000) == [(0, 30_000), (31_000, 40_000)]


def test_gap_tolerance_boundary() -> None:
    assert GAP_TOLERANCE_MS == 250
    assert merge_spans([(0, 1000), (1250, 3000)], 0, 10_000) == [(0, 3000)]
    assert merge_spans([(0, 1000), (1251, 3000)], 0, 10_000) == [(0, 1000), (1251, 3000)]


def test_clipped_to_range_and_unordered_input_and_overlap() -> None:
    spans = [(50, 150), (0, 100), (400, 500), (600, 700)]
    assert merge_spans(spans, 20, 450, gap_tolerance_ms=10) == [(20, 150), (400, 450)]


def test_empty_and_degenerate() -> None:
    assert merge_spans([], 0, 10) == []
    assert merge_spans([(5, 5), (7, 3)], 0, 10) == []
