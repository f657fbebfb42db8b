"""ONVIF media service (trt, ver10) replies: two fixed profiles, "main" and "sub".

Pure functions `(camera, args, now) -> body XML`, like onvif_device.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from emulator.camera import CameraSpec, StreamSettings
from emulator.onvif_device import SNAPSHOT_PATH, base_url, media_service_capabilities_xml
from emulator.soap import attr, invalid_arg, text

PROFILE_TOKENS = ("main", "sub")
VIDEO_SOURCE_TOKEN = "VideoSource_1"
VIDEO_SOURCE_CONFIG_TOKEN = "VideoSourceConfig_1"


def stream_settings(camera: CameraSpec, profile: str) -> StreamSettings:
    return camera.main if profile == "main" else camera.sub


def encoder_token(profile: str) -> str:
    return f"VideoEncoder_{profile}"


def encoding_name(camera: CameraSpec) -> str:
    # ver10 media only knows JPEG/MPEG4/H264; H.265 cameras report "H265" there anyway,
    # which is also the standard ver20 (media2) name.
    return "H265" if camera.codec == "hevc" else "H264"


def snapshot_url(camera: CameraSpec, profile: str) -> str:
    return f"{base_url(camera)}{SNAPSHOT_PATH}?{urlencode({'profile': profile})}"


def profile_arg(args: dict) -> str:
    token = args.get("ProfileToken")
    if not isinstance(token, str) or token not in PROFILE_TOKENS:
        raise invalid_arg("NoProfile", "The requested profile token does not exist")
    return token


def video_source_configuration_xml(camera: CameraSpec, element: str) -> str:
    width, height = camera.main.width, camera.main.height
    return (
        f"<{element} token={attr(VIDEO_SOURCE_CONFIG_TOKEN)}>"
        "<tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount>"
        f"<tt:SourceToken>{VIDEO_SOURCE_TOKEN}</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/>'
        f"</{element}>"
    )


def _video_encoder_configuration_xml(camera: CameraSpec, profile: str, element: str) -> str:
    s = stream_settings(camera, profile)
    gov_length = max(1, round(s.fps * s.gop_seconds))
    codec_xml = ""
    if camera.codec != "hevc":
        codec_xml = (
            f"<tt:H264><tt:GovLength>{gov_length}</tt:GovLength>"
            "<tt:H264Profile>High</tt:H264Profile></tt:H264>"
        )
    return (
        f"<{element} token={attr(encoder_token(profile))}>"
        f"<tt:Name>{text(profile)}</tt:Name><tt:UseCount>1</tt:UseCount>"
        f"<tt:Encoding>{encoding_name(camera)}</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{s.width}</tt:Width><tt:Height>{s.height}</tt:Height>"
        "</tt:Resolution><tt:Quality>5</tt:Quality>"
        f"<tt:RateControl><tt:FrameRateLimit>{s.fps}</tt:FrameRateLimit>"
        "<tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{max(1, s.bitrate // 1000)}</tt:BitrateLimit></tt:RateControl>"
        f"{codec_xml}"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0"
        "</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL>"
        "<tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        "<tt:SessionTimeout>PT60S</tt:SessionTimeout>"
        f"</{element}>"
    )


def _profile_xml(camera: CameraSpec, profile: str, element: str) -> str:
    return (
        f'<{element} token={attr(profile)} fixed="true">'
        f"<tt:Name>{text(profile)}</tt:Name>"
        + video_source_configuration_xml(camera, "tt:VideoSourceConfiguration")
        + _video_encoder_configuration_xml(camera, profile, "tt:VideoEncoderConfiguration")
        + f"</{element}>"
    )


def get_profiles(camera: CameraSpec, args: dict, now: datetime) -> str:
    profiles = "".join(_profile_xml(camera, p, "trt:Profiles") for p in PROFILE_TOKENS)
    return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"


def get_profile(camera: CameraSpec, args: dict, now: datetime) -> str:
    profile = profile_arg(args)
    return (
        "<trt:GetProfileResponse>"
        + _profile_xml(camera, profile, "trt:Profile")
        + "</trt:GetProfileResponse>"
    )


def get_video_sources(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        f"<trt:GetVideoSourcesResponse><trt:VideoSources token={attr(VIDEO_SOURCE_TOKEN)}>"
        f"<tt:Framerate>{camera.main.fps}</tt:Framerate>"
        f"<tt:Resolution><tt:Width>{camera.main.width}</tt:Width>"
        f"<tt:Height>{camera.main.height}</tt:Height></tt:Resolution>"
        "</trt:VideoSources></trt:GetVideoSourcesResponse>"
    )


def get_video_source_configurations(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<trt:GetVideoSourceConfigurationsResponse>"
        + video_source_configuration_xml(camera, "trt:Configurations")
        + "</trt:GetVideoSourceConfigurationsResponse>"
    )


def get_video_encoder_configurations(camera: CameraSpec, args: dict, now: datetime) -> str:
    configs = "".join(
        _video_encoder_configuration_xml(camera, p, "trt:Configurations") for p in PROFILE_TOKENS
    )
    return (
        f"<trt:GetVideoEncoderConfigurationsResponse>{configs}"
        "</trt:GetVideoEncoderConfigurationsResponse>"
    )


def get_video_encoder_configuration(camera: CameraSpec, args: dict, now: datetime) -> str:
    token = args.get("ConfigurationToken")
    by_token = {encoder_token(p): p for p in PROFILE_TOKENS}
    if not isinstance(token, str) or token not in by_token:
        raise invalid_arg("NoConfig", "The requested configuration does not exist")
    return (
        "<trt:GetVideoEncoderConfigurationResponse>"
        + _video_encoder_configuration_xml(camera, by_token[token], "trt:Configuration")
        + "</trt:GetVideoEncoderConfigurationResponse>"
    )


def _media_uri_xml(uri: str) -> str:
    return (
        f"<trt:MediaUri><tt:Uri>{text(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
        "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
    )


def get_stream_uri(camera: CameraSpec, args: dict, now: datetime) -> str:
    profile = profile_arg(args)
    setup = args.get("StreamSetup")
    if isinstance(setup, dict):
        stream = setup.get("Stream", "RTP-Unicast")
        transport = setup.get("Transport")
        protocol = transport.get("Protocol", "RTSP") if isinstance(transport, dict) else "RTSP"
        if stream != "RTP-Unicast":
            raise invalid_arg("InvalidStreamSetup", "Only RTP-Unicast streaming is supported")
        if protocol not in ("UDP", "TCP", "RTSP"):
            raise invalid_arg("InvalidStreamSetup", "Only RTSP (UDP or TCP) is supported")
    return (
        "<trt:GetStreamUriResponse>"
        + _media_uri_xml(camera.rtsp_url(profile))
        + "</trt:GetStreamUriResponse>"
    )


def get_snapshot_uri(camera: CameraSpec, args: dict, now: datetime) -> str:
    profile = profile_arg(args)
    return (
        "<trt:GetSnapshotUriResponse>"
        + _media_uri_xml(snapshot_url(camera, profile))
        + "</trt:GetSnapshotUriResponse>"
    )


def get_media_service_capabilities(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<trt:GetServiceCapabilitiesResponse>"
        + media_service_capabilities_xml()
        + "</trt:GetServiceCapabilitiesResponse>"
    )


MEDIA_OPERATIONS = {
    "GetProfiles": get_profiles,
    "GetProfile": get_profile,
    "GetVideoSources": get_video_sources,
    "GetVideoSourceConfigurations": get_video_source_configurations,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoEncoderConfiguration": get_video_encoder_configuration,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
    "GetServiceCapabilities": get_media_service_capabilities,
}
