from recorder._periods import merge_spans


def test_adjacent_segments_merge_and_gaps_stay_visible() -> None:
    spans = [(0, 10_000), (10_000, 20_000), (21_000, 30_000), (40_000, 50_000)]
    assert merge_spans(spans, 0, 100_000) == [(0, 30_000), (40_000, 50_000)]


def test_gap_tolerance_boundary() -> None:
    assert merge_spans([(0, 1000), (2500, 3000)], 0, 10_000) == [(0, 3000)]
    assert merge_spans([(0, 1000), (2501, 3000)], 0, 10_000) == [(0, 1000), (2501, 3000)]


def test_clipped_to_range_and_unordered_input_and_overlap() -> None:
    spans = [(50, 150), (0, 100), (400, 500), (600, 700)]
    assert merge_spans(spans, 20, 450, gap_tolerance_ms=10) == [(20, 150), (400, 450)]


def test_empty_and_degenerate() -> None:
    assert merge_spans([], 0, 10) == []
    assert merge_spans([(5, 5), (7, 3)], 0, 10) == []
