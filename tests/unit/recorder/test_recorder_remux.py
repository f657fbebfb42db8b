"""The segment writer on real media, without a camera: packets demuxed from local files
made by ffmpeg (Annex B H.264/H.265 like RTSP gives, and H.264 + AAC)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import threading
from pathlib import Path

import av
import pytest

from recorder._mp4boxes import scan_file
from recorder._segment_probe import probe_segment
from recorder._segment_writer import IngestFailure, SegmentRemuxer


def make_media(
    path: Path, *, codec: str = "libx264", audio: bool = False, seconds: int = 6, gop: int = 25
) -> Path:
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "aac"]
    cmd += ["-t", str(seconds), "-c:v", codec, "-preset", "ultrafast", "-g", str(gop), "-bf", "0"]
    if codec == "libx265":
        cmd += ["-x265-params", "log-level=error"]
    subprocess.run([*cmd, str(path)], check=True, timeout=60)
    return path


def ffprobe(path: Path, *entries: str) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-count_packets",
            "-show_entries",
            ":".join(entries),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    return json.loads(out.stdout)


def packet_dts(path: Path) -> list[int]:
    data = ffprobe(path, "packet=dts,stream_index")
    return [int(p["dts"]) for p in data["packets"] if p["stream_index"] == 0]


def _resized(folder: Path) -> Path:
    """3 s at 320x240 then 3 s at 480x270 in one MPEG-TS stream (new SPS in-band)."""
    small = make_media(folder / "small.ts", seconds=3)
    big = folder / "big.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=480x270:rate=25",
         "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0",
         "-output_ts_offset", "3", str(big)],
        check=True, timeout=60,
    )  # fmt: skip
    joined = folder / "resized.ts"
    joined.write_bytes(small.read_bytes() + big.read_bytes())
    return joined


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    return {
        "h264": make_media(folder / "h264.ts"),
        "hevc": make_media(folder / "hevc.ts", codec="libx265"),
        "h264_aac": make_media(folder / "h264_aac.mkv", audio=True),
        "h264_gop4s": make_media(folder / "gop4s.ts", gop=100),
        "h264_resized": _resized(folder),
    }


class Sink:
    """Collects what the remuxer reports; names segments 1.mp4, 2.mp4, ..."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events: list[tuple] = []
        self.count = 0

    def claim_path(self, start_ms: int) -> tuple[str, Path]:
        self.count += 1
        rel = f"{self.count}.mp4"
        return rel, self.folder / rel

    def segment_opened(self, *args) -> None:
        self.events.append(("opened", *args))

    def segment_progress(self, *args) -> None:
        self.events.append(("progress", *args))

    def segment_closed(self, *args) -> None:
        self.events.append(("closed", *args))

    def of(self, kind: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == kind]


class MediaClock:
    """Wall clock that follows the media time of the packets read, as a live camera's."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000
        self.first: float | None = None

    def __call__(self) -> int:
        return self.ms

    def saw(self, packet) -> float:
        """Media seconds since the first packet (and move the clock there)."""
        if packet.pts is None:
            return 0.0 if self.first is None else (self.ms - 1_700_000_000_000) / 1000
        t = float(packet.pts * packet.time_base)
        if self.first is None:
            self.first = t
        self.ms = 1_700_000_000_000 + round((t - self.first) * 1000)
        return t - self.first


class Perturbed:
    """An input whose demux passes packets through `change(index, packet, media_s)`."""

    def __init__(self, inp, clock: MediaClock, change=None) -> None:
        self.inp = inp
        self.streams = inp.streams
        self.clock = clock
        self.change = change

    def demux(self, streams):
        for i, packet in enumerate(self.inp.demux(streams)):
            media_s = self.clock.saw(packet)
            if self.change is None or self.change(i, packet, media_s) is not False:
                yield packet


def remux(source: Path, folder: Path, seconds: float, change=None) -> Sink:
    sink = Sink(folder)
    clock = MediaClock()
    with av.open(str(source)) as inp:
        remuxer = SegmentRemuxer(
            Perturbed(inp, clock, change),
            segment_seconds=seconds,
            sink=sink,
            stop=threading.Event(),
            scrub=str,
            now_ms=clock,
        )
        with pytest.raises(IngestFailure, match="ended the stream"):
            remuxer.run()
    return sink


@pytest.mark.parametrize("kind", ["h264", "hevc", "h264_aac"])
def test_segments_cut_at_keyframe_after_length_and_playable(
    kind: str, media: dict[str, Path], tmp_path: Path
) -> None:
    sink = remux(media[kind], tmp_path, seconds=2.0)
    opened, closed = sink.of("opened"), sink.of("closed")
    assert [o[0] for o in opened] == ["1.mp4", "2.mp4", "3.mp4"]
    assert [c[0] for c in closed] == ["1.mp4", "2.mp4", "3.mp4"]
    assert {(o[2], o[3], o[4]) for o in opened} == {
        ("hevc" if kind == "hevc" else "h264", 320, 240)
    }
    for (rel, start_ms, *_), (_, end_ms, size) in zip(opened, closed, strict=True):
        path = tmp_path / rel
        info = ffprobe(path, "format=duration", "stream=codec_name,nb_read_packets")
        duration = float(info["format"]["duration"])
        assert abs(duration - 2.0) < 0.05
        assert abs((end_ms - start_ms) / 1000 - duration) < 0.05
        assert size == path.stat().st_size
        assert int(info["streams"][0]["nb_read_packets"]) == 50
        if kind == "h264_aac":
            assert info["streams"][1]["codec_name"] == "aac"
        scan = scan_file(path)
        assert scan.fragments >= 2 and not scan.torn  # at least one fragment per second
    # consecutive segments touch: the next starts where the previous ended
    assert [o[1] for o in opened[1:]] == [c[1] for c in closed[:-1]]


def test_fragment_on_disk_after_one_and_a_half_seconds(media: dict[str, Path], tmp_path: Path):
    snapshot = tmp_path / "snapshot.mp4"

    def copy_at_1_5_s(index: int, packet, media_s: float) -> None:
        if not snapshot.exists() and media_s >= 1.5:
            shutil.copyfile(tmp_path / "1.mp4", snapshot)

    # keyframes only every 4 s: the fragment must be cut by duration, not by keyframe
    remux(media["h264_gop4s"], tmp_path, seconds=60.0, change=copy_at_1_5_s)
    info = ffprobe(snapshot, "format=duration", "stream=nb_read_packets")
    # the fragments cut so far (every 0.6 s: at least 20 frames) are on disk and play
    assert int(info["streams"][0]["nb_read_packets"]) >= 20
    assert scan_file(snapshot).fragments >= 1


def test_broken_timestamps_do_not_crash_or_corrupt(media: dict[str, Path], tmp_path: Path):
    def garble(index: int, packet, media_s: float) -> bool | None:
        if index % 7 == 3:
            packet.dts = None
            packet.pts = None
        elif index % 11 == 5:
            packet.dts = packet.dts - 3600 if packet.dts else None  # goes backwards
        elif index == 60:
            return False  # lost
        elif index >= 100:
            packet.dts += 10**9  # the camera's clock jumps
            packet.pts += 10**9
        return None

    sink = remux(media["h264"], tmp_path, seconds=60.0, change=garble)
    ((rel, start_ms, *_),) = sink.of("opened")
    ((_, end_ms, _),) = sink.of("closed")
    dts = packet_dts(tmp_path / rel)
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert len(dts) >= 130  # a few dropped, not the rest
    assert 5.0 <= (end_ms - start_ms) / 1000 <= 6.5


def test_probe_reads_back_start_codec_and_duration(media: dict[str, Path], tmp_path: Path):
    sink = remux(media["h264_aac"], tmp_path, seconds=60.0)
    ((rel, start_ms, *_),) = sink.of("opened")
    info = probe_segment(tmp_path / rel)
    assert info is not None
    assert (info.start_ms, info.codec, info.width, info.height) == (start_ms, "h264", 320, 240)
    assert abs(info.duration_ms - 6000) <= 50
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    assert probe_segment(tmp_path / "junk.mp4") is None


def test_in_band_resolution_change_starts_a_new_segment(media: dict[str, Path], tmp_path: Path):
    sink = remux(media["h264_resized"], tmp_path, seconds=60.0)
    opened = sink.of("opened")
    assert [(o[0], o[3], o[4]) for o in opened] == [("1.mp4", 320, 240), ("2.mp4", 480, 270)]
    for rel, width, height in (("1.mp4", 320, 240), ("2.mp4", 480, 270)):
        info = ffprobe(tmp_path / rel, "format=duration", "stream=width,height,nb_read_packets")
        stream = info["streams"][0]
        assert (stream["width"], stream["height"]) == (width, height)
        assert int(stream["nb_read_packets"]) == 75
