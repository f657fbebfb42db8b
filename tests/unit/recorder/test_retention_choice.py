from recorder import RetentionPolicy
from recorder._retention import StoredSegment, choose_deletions

NOW = 10_000_000


def seg(key: int, start_s: int, size: int, open_: bool = False) -> StoredSegment:
    return StoredSegment(key, start_s * 1000, (start_s + 60) * 1000, size, open_)


SEGMENTS = [seg(3, 300, 100), seg(1, 100, 100), seg(2, 200, 100), seg(4, 400, 100, open_=True)]


def test_no_policy_deletes_nothing() -> None:
    choice = choose_deletions(SEGMENTS, RetentionPolicy(), now_ms=NOW, free_bytes=0)
    assert choice.delete == [] and not choice.storage_full


def test_quota_deletes_oldest_first_until_under() -> None:
    choice = choose_deletions(SEGMENTS, RetentionPolicy(max_bytes=250), now_ms=NOW)
    assert choice.delete == [1, 2]
    assert not choice.storage_full


def test_min_free_space() -> None:
    choice = choose_deletions(
        SEGMENTS, RetentionPolicy(min_free_bytes=1000), now_ms=NOW, free_bytes=850
    )
    assert choice.delete == [1, 2]


def test_segment_being_written_is_never_deleted_and_shortfall_reported() -> None:
    choice = choose_deletions(SEGMENTS, RetentionPolicy(max_bytes=50), now_ms=NOW)
    assert choice.delete == [1, 2, 3]
    assert choice.short_bytes == 50 and choice.storage_full


def test_max_age_uses_segment_end() -> None:
    # segment 1 ends at 160 s, segment 2 at 260 s; now is 10 000 s; max age 9 800 s
    choice = choose_deletions(
        SEGMENTS, RetentionPolicy(max_age_s=9800), now_ms=NOW, free_bytes=10**9
    )
    assert choice.delete == [1]


def test_age_and_quota_together() -> None:
    policy = RetentionPolicy(max_bytes=300, max_age_s=9800)
    choice = choose_deletions(SEGMENTS, policy, now_ms=NOW)
    assert choice.delete == [1]
    policy = RetentionPolicy(max_bytes=150, max_age_s=9800)
    assert choose_deletions(SEGMENTS, policy, now_ms=NOW).delete == [1, 2, 3]


def test_open_old_segment_kept_even_when_too_old() -> None:
    segments = [seg(1, 0, 10, open_=True)]
    choice = choose_deletions(segments, RetentionPolicy(max_age_s=1), now_ms=NOW)
    assert choice.delete == []


def test_streamed_oldest_first_reads_only_as_far_as_needed() -> None:
    """With the total size given, the segments come oldest first and are read only up
    to the first one neither too old nor needed: a months-long index is never loaded."""
    ordered = sorted(SEGMENTS, key=lambda s: (s.start_ms, s.key))
    many = ordered + [seg(10 + i, 1000 + i, 100) for i in range(10_000)]
    read: list[int] = []

    def stream():
        for s in many:
            read.append(s.key)
            yield s

    used = sum(s.bytes for s in many)
    policy = RetentionPolicy(max_bytes=used - 150)
    choice = choose_deletions(stream(), policy, now_ms=NOW, used_bytes=used)
    assert choice.delete == choose_deletions(many, policy, now_ms=NOW).delete == [1, 2]
    assert read == [1, 2, 3]  # stopped at the first segment it keeps
