"""ONVIF Profile G services of a camera with edge storage: recording (trc), search (tse)
and replay (trp), answering from the camera's `EdgeRecorder`.

The camera has one recording (its main stream, `RECORDING_TOKEN`) with one video
track; its data range is what the ring buffer holds right now (EarliestRecording /
LatestRecording, DataFrom / DataUntil). Searches finish at once: FindRecordings
keeps the matching tokens under a search token until KeepAliveTime runs out,
GetRecordingSearchResults pages through them (state Completed with the last page).
RecordingInformationFilter (an XPath expression) is not evaluated: every recording
in scope matches. Recording jobs are not exposed (the recording is fixed), so
GetRecordingJobs answers an empty list.

Element names and their order follow recording.wsdl, search.wsdl, replay.wsdl and
onvif.xsd, so WSDL-driven clients (zeep) parse the answers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from emulator.camera import RECORDING_TOKEN, VIDEO_TRACK_TOKEN, CameraSpec
from emulator.edge_recorder import EdgeRecorder
from emulator.onvif_device import (
    recording_service_capabilities_xml,
    replay_service_capabilities_xml,
    search_service_capabilities_xml,
)
from emulator.soap import TRC_NS, TRP_NS, TSE_NS, invalid_arg, text

Operation = Callable[[CameraSpec, dict, datetime], str]

MAX_SEARCHES = 16  # open searches per camera; the oldest is ended beyond this
MAX_KEEP_ALIVE = timedelta(minutes=10)
REPLAY_SESSION_TIMEOUT = "PT60S"
_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: object) -> timedelta:
    """xs:duration limited to days, hours, minutes and seconds (what KeepAliveTime uses)."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()) or value.endswith("T"):  # type: ignore[union-attr]
        raise invalid_arg("InvalidArgs", "KeepAliveTime must be an xs:duration like PT10S")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def xml_time(unix_time: float) -> str:
    """xs:dateTime in UTC with milliseconds."""
    moment = datetime.fromtimestamp(unix_time, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _int_arg(args: dict, name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise invalid_arg("InvalidArgs", f"{name} must be an integer") from None
    if number < 0:
        raise invalid_arg("InvalidArgs", f"{name} must not be negative")
    return number


def _listed(value: object) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class _Search:
    tokens: list[str]
    position: int
    expires: datetime


class ProfileG:
    """The Profile G operations of one camera, bound to its recording."""

    def __init__(self, camera: CameraSpec, recorder: EdgeRecorder) -> None:
        self.camera = camera
        self.recorder = recorder
        self._searches: dict[str, _Search] = {}

    def operations(self) -> dict[str, dict[str, Operation]]:
        return {
            TRC_NS: {
                "GetServiceCapabilities": self.get_recording_capabilities,
                "GetRecordings": self.get_recordings,
                "GetRecordingJobs": self.get_recording_jobs,
            },
            TSE_NS: {
                "GetServiceCapabilities": self.get_search_capabilities,
                "GetRecordingSummary": self.get_recording_summary,
                "GetRecordingInformation": self.get_recording_information,
                "FindRecordings": self.find_recordings,
                "GetRecordingSearchResults": self.get_recording_search_results,
                "GetSearchState": self.get_search_state,
                "EndSearch": self.end_search,
            },
            TRP_NS: {
                "GetServiceCapabilities": self.get_replay_capabilities,
                "GetReplayUri": self.get_replay_uri,
                "GetReplayConfiguration": self.get_replay_configuration,
            },
        }

    # -- shared pieces -------------------------------------------------------------------

    def _recording_token(self, args: dict) -> str:
        token = args.get("RecordingToken")
        if token != RECORDING_TOKEN:
            raise invalid_arg("NoRecording", "The recording token does not exist")
        return token

    def _source_xml(self) -> str:
        camera = self.camera
        return (
            f"<tt:SourceId>{text(camera.rtsp_url('main'))}</tt:SourceId>"
            f"<tt:Name>{text(camera.name)}</tt:Name>"
            f"<tt:Location>{text(camera.location)}</tt:Location>"
            f"<tt:Description>{text(camera.name)} main stream</tt:Description>"
            f"<tt:Address>{text(camera.onvif_url)}</tt:Address>"
        )

    def _codec_label(self) -> str:
        return "H265" if self.recorder.codec == "hevc" else "H264"

    def recording_information_xml(self, element: str) -> str:
        ring = self.recorder.ring
        earliest, latest = ring.earliest, ring.latest
        held = earliest is not None and latest is not None
        times = (
            f"<tt:EarliestRecording>{xml_time(earliest)}</tt:EarliestRecording>"  # type: ignore[arg-type]
            f"<tt:LatestRecording>{xml_time(latest)}</tt:LatestRecording>"  # type: ignore[arg-type]
            if held
            else ""
        )
        track = (
            f"<tt:Track><tt:TrackToken>{VIDEO_TRACK_TOKEN}</tt:TrackToken>"
            "<tt:TrackType>Video</tt:TrackType>"
            f"<tt:Description>{self._codec_label()} video</tt:Description>"
            f"<tt:DataFrom>{xml_time(earliest)}</tt:DataFrom>"  # type: ignore[arg-type]
            f"<tt:DataTo>{xml_time(latest)}</tt:DataTo></tt:Track>"  # type: ignore[arg-type]
            if held
            else ""
        )
        return (
            f"<{element}><tt:RecordingToken>{RECORDING_TOKEN}</tt:RecordingToken>"
            f"<tt:Source>{self._source_xml()}</tt:Source>{times}"
            "<tt:Content>Edge storage of the main stream</tt:Content>"
            f"{track}<tt:RecordingStatus>Recording</tt:RecordingStatus></{element}>"
        )

    # -- recording service ------------------------------------------------------------------

    def get_recording_capabilities(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        return (
            "<trc:GetServiceCapabilitiesResponse>"
            + recording_service_capabilities_xml()
            + "</trc:GetServiceCapabilitiesResponse>"
        )

    def get_recordings(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        retention = f"PT{round(self.recorder.ring.duration_s)}S"
        return (
            "<trc:GetRecordingsResponse><trc:RecordingItem>"
            f"<tt:RecordingToken>{RECORDING_TOKEN}</tt:RecordingToken>"
            f"<tt:Configuration><tt:Source>{self._source_xml()}</tt:Source>"
            "<tt:Content>Edge storage of the main stream</tt:Content>"
            f"<tt:MaximumRetentionTime>{retention}</tt:MaximumRetentionTime></tt:Configuration>"
            f"<tt:Tracks><tt:Track><tt:TrackToken>{VIDEO_TRACK_TOKEN}</tt:TrackToken>"
            "<tt:Configuration><tt:TrackType>Video</tt:TrackType>"
            f"<tt:Description>{self._codec_label()} video</tt:Description></tt:Configuration>"
            "</tt:Track></tt:Tracks>"
            "</trc:RecordingItem></trc:GetRecordingsResponse>"
        )

    def get_recording_jobs(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        return "<trc:GetRecordingJobsResponse/>"

    # -- search service ----------------------------------------------------------------------

    def get_search_capabilities(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        return (
            "<tse:GetServiceCapabilitiesResponse>"
            + search_service_capabilities_xml()
            + "</tse:GetServiceCapabilitiesResponse>"
        )

    def get_recording_summary(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        ring = self.recorder.ring
        held = ring.earliest is not None and ring.latest is not None
        first = ring.earliest if held else now.timestamp()
        last = ring.latest if held else now.timestamp()
        return (
            "<tse:GetRecordingSummaryResponse><tse:Summary>"
            f"<tt:DataFrom>{xml_time(first)}</tt:DataFrom>"  # type: ignore[arg-type]
            f"<tt:DataUntil>{xml_time(last)}</tt:DataUntil>"  # type: ignore[arg-type]
            f"<tt:NumberRecordings>{1 if held else 0}</tt:NumberRecordings>"
            "</tse:Summary></tse:GetRecordingSummaryResponse>"
        )

    def get_recording_information(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        self._recording_token(args)
        return (
            "<tse:GetRecordingInformationResponse>"
            + self.recording_information_xml("tse:RecordingInformation")
            + "</tse:GetRecordingInformationResponse>"
        )

    def _expire(self, now: datetime) -> None:
        for token in [t for t, s in self._searches.items() if s.expires < now]:
            del self._searches[token]

    def _search(self, args: dict, now: datetime) -> tuple[str, _Search]:
        self._expire(now)
        token = args.get("SearchToken")
        search = self._searches.get(token) if isinstance(token, str) else None
        if search is None:
            raise invalid_arg("InvalidToken", "The search token does not exist")
        return token, search  # type: ignore[return-value]

    def find_recordings(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        scope = args.get("Scope")
        if not isinstance(scope, dict) and scope != "":
            raise invalid_arg("InvalidArgs", "FindRecordings needs a Scope")
        scope = scope if isinstance(scope, dict) else {}
        keep_alive = min(parse_duration(args.get("KeepAliveTime")), MAX_KEEP_ALIVE)
        max_matches = _int_arg(args, "MaxMatches")
        sources = _listed(scope.get("IncludedSources"))
        recordings = _listed(scope.get("IncludedRecordings"))
        source_tokens = {s.get("Token") if isinstance(s, dict) else s for s in sources}
        matches = [RECORDING_TOKEN]
        if recordings and RECORDING_TOKEN not in recordings:
            matches = []
        if sources and not source_tokens & {camera.rtsp_url("main"), "VideoSource_1"}:
            matches = []
        if max_matches is not None:
            matches = matches[:max_matches]
        self._expire(now)
        while len(self._searches) >= MAX_SEARCHES:
            self._searches.pop(next(iter(self._searches)))
        token = f"search-{secrets.token_hex(6)}"
        self._searches[token] = _Search(matches, 0, now + keep_alive)
        return (
            f"<tse:FindRecordingsResponse><tse:SearchToken>{token}</tse:SearchToken>"
            "</tse:FindRecordingsResponse>"
        )

    def get_recording_search_results(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        _, search = self._search(args, now)
        max_results = _int_arg(args, "MaxResults")
        remaining = search.tokens[search.position :]
        page = remaining if max_results is None else remaining[:max_results]
        search.position += len(page)
        state = "Completed" if search.position >= len(search.tokens) else "Searching"
        items = "".join(self.recording_information_xml("tt:RecordingInformation") for _ in page)
        return (
            "<tse:GetRecordingSearchResultsResponse><tse:ResultList>"
            f"<tt:SearchState>{state}</tt:SearchState>{items}"
            "</tse:ResultList></tse:GetRecordingSearchResultsResponse>"
        )

    def get_search_state(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        _, search = self._search(args, now)
        state = "Completed" if search.position >= len(search.tokens) else "Searching"
        return (
            f"<tse:GetSearchStateResponse><tse:State>{state}</tse:State>"
            "</tse:GetSearchStateResponse>"
        )

    def end_search(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        token, _ = self._search(args, now)
        del self._searches[token]
        latest = self.recorder.ring.latest
        endpoint = xml_time(latest if latest is not None else now.timestamp())
        return (
            f"<tse:EndSearchResponse><tse:Endpoint>{endpoint}</tse:Endpoint>"
            "</tse:EndSearchResponse>"
        )

    # -- replay service ------------------------------------------------------------------------

    def get_replay_capabilities(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        return (
            "<trp:GetServiceCapabilitiesResponse>"
            + replay_service_capabilities_xml()
            + "</trp:GetServiceCapabilitiesResponse>"
        )

    def get_replay_uri(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        token = self._recording_token(args)
        setup = args.get("StreamSetup")
        if not isinstance(setup, dict):
            raise invalid_arg("InvalidStreamSetup", "GetReplayUri needs a StreamSetup")
        transport = setup.get("Transport")
        protocol = transport.get("Protocol") if isinstance(transport, dict) else None
        if setup.get("Stream") != "RTP-Unicast":
            raise invalid_arg("InvalidStreamSetup", "Only RTP-Unicast replay is supported")
        if protocol not in ("RTSP", "TCP", "UDP"):
            raise invalid_arg("InvalidStreamSetup", "Replay is served over RTSP")
        return (
            f"<trp:GetReplayUriResponse><trp:Uri>{text(camera.replay_url(token))}</trp:Uri>"
            "</trp:GetReplayUriResponse>"
        )

    def get_replay_configuration(self, camera: CameraSpec, args: dict, now: datetime) -> str:
        return (
            "<trp:GetReplayConfigurationResponse><trp:Configuration>"
            f"<tt:SessionTimeout>{REPLAY_SESSION_TIMEOUT}</tt:SessionTimeout>"
            "</trp:Configuration></trp:GetReplayConfigurationResponse>"
        )


__all__ = ["ProfileG", "parse_duration", "xml_time"]
