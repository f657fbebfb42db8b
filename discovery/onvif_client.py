"""Ask an ONVIF camera for its identity and main stream with onvif-zeep-async.

`fetch_stream_uri` turns every way this can fail into a `CameraAddError` whose
`kind` says what happened (unreachable, timeout, unauthorized, not_onvif,
no_stream) and whose str() is a reason fit to show a user.

`fetch_edge_recording` asks a camera for its own recording (ONVIF Profile G: the
recording, search and replay services): the range it holds and the replay URI;
None when the camera has no edge storage.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)


class CameraAddError(Exception):
    """A camera could not be added; `kind` classifies it, str() explains it."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # "unreachable" | "timeout" | "unauthorized" | "not_onvif" | "no_stream"
        self.reason = reason


@dataclass(frozen=True)
class OnvifProfile:
    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class OnvifCameraInfo:
    stream_uri: str  # main profile's RTSP URI, credentials not embedded
    profile_token: str
    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    profiles: tuple[OnvifProfile, ...]
    sub_stream_uri: str | None = None  # the second (smaller) profile's, if any


def strip_credentials(uri: str) -> str:
    """Remove user:password@ from a URI."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _profile(raw: Any) -> OnvifProfile:
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    return OnvifProfile(
        token=str(raw.token),
        name=str(getattr(raw, "Name", "") or raw.token),
        encoding=_text(getattr(encoder, "Encoding", None)),
        width=getattr(resolution, "Width", None),
        height=getattr(resolution, "Height", None),
    )


def _main_profile(profiles: list[OnvifProfile]) -> OnvifProfile:
    """The main stream: the largest resolution (first one on ties or if unknown)."""
    return max(profiles, key=lambda p: (p.width or 0) * (p.height or 0))


def _classify(error: BaseException, where: str) -> CameraAddError:
    """Map the zoo of onvif/zeep/aiohttp/lxml errors onto a CameraAddError."""
    import aiohttp
    import zeep.exceptions
    from lxml import etree
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError

    cause = error
    while isinstance(cause, ONVIFError) and cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause) or type(cause).__name__
    lowered = text.lower()
    if isinstance(error, ONVIFAuthError) or isinstance(cause, ONVIFAuthError):
        return CameraAddError("unauthorized", f"camera refused the user name or password ({where})")
    if isinstance(cause, zeep.exceptions.Fault):
        if "auth" in lowered or "notauthorized" in lowered.replace(" ", ""):
            return CameraAddError(
                "unauthorized", f"camera refused the user name or password ({where})"
            )
        return CameraAddError(
            "not_onvif", f"camera answered {where} with a SOAP fault: {text[:200]}"
        )
    if isinstance(cause, zeep.exceptions.TransportError):
        status = getattr(cause, "status_code", 0)
        if status in (401, 403):
            return CameraAddError(
                "unauthorized", f"camera refused the user name or password ({where})"
            )
        return CameraAddError(
            "not_onvif", f"not an ONVIF device service (HTTP {status} on {where})"
        )
    if isinstance(cause, asyncio.TimeoutError | TimeoutError | ONVIFTimeoutError):
        return CameraAddError("timeout", f"camera did not answer in time ({where})")
    if isinstance(cause, aiohttp.ClientConnectorError | ConnectionError | OSError):
        return CameraAddError("unreachable", f"cannot connect to the camera: {text[:200]}")
    if isinstance(cause, aiohttp.ClientError):
        return CameraAddError("unreachable", f"HTTP error talking to the camera: {text[:200]}")
    if isinstance(
        cause, etree.XMLSyntaxError | zeep.exceptions.XMLParseError | zeep.exceptions.Error
    ):
        return CameraAddError("not_onvif", f"the answer to {where} is not ONVIF SOAP: {text[:200]}")
    return CameraAddError(
        "not_onvif", f"not an ONVIF device service ({where} failed: {text[:200]})"
    )


async def _query(
    host: str, port: int, username: str | None, password: str | None
) -> OnvifCameraInfo:
    from onvif import ONVIFCamera

    camera = ONVIFCamera(host, port, username or "", password or "", no_cache=True)
    step = "GetServices"
    try:
        await camera.update_xaddrs()
        step = "GetDeviceInformation"
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        step = "GetProfiles"
        media = await camera.create_media_service()
        raw_profiles = await media.GetProfiles()
        profiles = [_profile(p) for p in raw_profiles or []]
        if not profiles:
            raise CameraAddError("no_stream", "camera has no media profiles")
        main = _main_profile(profiles)
        step = "GetStreamUri"
        answer = await media.GetStreamUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": main.token,
            }
        )
        uri = getattr(answer, "Uri", None)
        if not uri or not str(uri).lower().startswith(("rtsp://", "rtsps://")):
            raise CameraAddError("no_stream", f"camera gave no RTSP stream URI (got {uri!r:.100})")
        sub_uri = None
        others = [p for p in profiles if p.token != main.token]
        if others:  # the sub-stream for live grids: the smallest other profile
            sub = min(others, key=lambda p: (p.width or 0) * (p.height or 0))
            step = "GetStreamUri (second profile)"
            sub_answer = await media.GetStreamUri(
                {
                    "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                    "ProfileToken": sub.token,
                }
            )
            text = str(getattr(sub_answer, "Uri", "") or "")
            if text.lower().startswith(("rtsp://", "rtsps://")):
                sub_uri = strip_credentials(text)
        return OnvifCameraInfo(
            stream_uri=strip_credentials(str(uri)),
            profile_token=main.token,
            manufacturer=_text(getattr(info, "Manufacturer", None)),
            model=_text(getattr(info, "Model", None)),
            serial=_text(getattr(info, "SerialNumber", None)),
            firmware=_text(getattr(info, "FirmwareVersion", None)),
            profiles=tuple(profiles),
            sub_stream_uri=sub_uri,
        )
    except CameraAddError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as error:  # every library error becomes one clear reason
        log.debug("ONVIF %s on %s:%s failed", step, host, port, exc_info=True)
        raise _classify(error, step) from None
    finally:
        try:
            await camera.close()
        except Exception:  # closing a half-open client must not hide the real error
            log.debug("closing ONVIF client failed", exc_info=True)


async def fetch_stream_uri(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    timeout_s: float = 10.0,
) -> OnvifCameraInfo:
    """The camera's identity and main-profile stream URI; CameraAddError on failure."""
    try:
        return await asyncio.wait_for(_query(host, port, username, password), timeout_s)
    except TimeoutError:
        raise CameraAddError("timeout", f"camera did not answer within {timeout_s:g} s") from None


SEARCH_NS = "http://www.onvif.org/ver10/search/wsdl"
REPLAY_NS = "http://www.onvif.org/ver10/replay/wsdl"
RECORDING_NS = "http://www.onvif.org/ver10/recording/wsdl"


@dataclass(frozen=True)
class EdgeRecording:
    """A camera's own recording (edge storage) and the range it holds now."""

    recording_token: str
    replay_uri: str  # credentials not embedded
    earliest: datetime | None  # UTC; None when it holds nothing yet
    latest: datetime | None


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _query_edge(
    host: str, port: int, username: str | None, password: str | None
) -> EdgeRecording | None:
    from onvif import ONVIFCamera

    camera = ONVIFCamera(host, port, username or "", password or "", no_cache=True)
    step = "GetServices"
    try:
        await camera.update_xaddrs()
        if not {SEARCH_NS, REPLAY_NS} <= set(camera.xaddrs or {}):
            return None  # no Profile G: the camera keeps no recording of its own
        step = "FindRecordings"
        search = await camera.create_search_service()
        token = await search.FindRecordings({"Scope": {}, "KeepAliveTime": timedelta(seconds=10)})
        step = "GetRecordingSearchResults"
        results = await search.GetRecordingSearchResults({"SearchToken": token, "MaxResults": 8})
        found = list(getattr(results, "RecordingInformation", None) or [])
        if not found:
            return None
        info = found[0]
        step = "GetReplayUri"
        replay = await camera.create_replay_service()
        uri = await replay.GetReplayUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "RecordingToken": info.RecordingToken,
            }
        )
        if not uri or not str(uri).lower().startswith("rtsp://"):
            return None
        return EdgeRecording(
            recording_token=str(info.RecordingToken),
            replay_uri=strip_credentials(str(uri)),
            earliest=_utc(getattr(info, "EarliestRecording", None)),
            latest=_utc(getattr(info, "LatestRecording", None)),
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:  # every library error becomes one clear reason
        log.debug("ONVIF %s on %s:%s failed", step, host, port, exc_info=True)
        raise _classify(error, step) from None
    finally:
        try:
            await camera.close()
        except Exception:
            log.debug("closing ONVIF client failed", exc_info=True)


async def fetch_edge_recording(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    timeout_s: float = 10.0,
) -> EdgeRecording | None:
    """The camera's own recording (Profile G), or None when it has none; a
    CameraAddError (unreachable, timeout, unauthorized, not_onvif) when it cannot be
    asked."""
    try:
        return await asyncio.wait_for(_query_edge(host, port, username, password), timeout_s)
    except TimeoutError:
        raise CameraAddError("timeout", f"camera did not answer within {timeout_s:g} s") from None
