"""ONVIF media2 service (tr2, ver20) replies: the same two profiles as media (ver10), with
H.265 expressed as the standard "H265" encoding. NVRs that prefer media2 use these.

Pure functions `(camera, args, now) -> body XML`, like onvif_media.
"""

from __future__ import annotations

from datetime import datetime

from emulator.camera import CameraSpec
from emulator.onvif_device import media2_service_capabilities_xml
from emulator.onvif_media import (
    PROFILE_TOKENS,
    encoder_token,
    encoding_name,
    profile_arg,
    snapshot_url,
    stream_settings,
    video_source_configuration_xml,
)
from emulator.soap import attr, invalid_arg, text

STREAM_PROTOCOLS = frozenset({"RtspUnicast", "RTSP"})  # RtspMulticast, RtspOverHttp: no


def _encoder_xml(camera: CameraSpec, profile: str, element: str) -> str:
    s = stream_settings(camera, profile)
    gov_length = max(1, round(s.fps * s.gop_seconds))
    codec_profile = "Main" if camera.codec == "hevc" else "High"
    return (
        f'<{element} token={attr(encoder_token(profile))} GovLength="{gov_length}" '
        f'Profile="{codec_profile}">'
        f"<tt:Name>{text(profile)}</tt:Name><tt:UseCount>1</tt:UseCount>"
        f"<tt:Encoding>{encoding_name(camera)}</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{s.width}</tt:Width><tt:Height>{s.height}</tt:Height>"
        "</tt:Resolution>"
        f'<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>{s.fps}</tt:FrameRateLimit>'
        f"<tt:BitrateLimit>{max(1, s.bitrate // 1000)}</tt:BitrateLimit></tt:RateControl>"
        "<tt:Quality>5</tt:Quality>"
        f"</{element}>"
    )


def _profile_xml(camera: CameraSpec, profile: str) -> str:
    return (
        f'<tr2:Profiles token={attr(profile)} fixed="true"><tr2:Name>{text(profile)}</tr2:Name>'
        "<tr2:Configurations>"
        + video_source_configuration_xml(camera, "tr2:VideoSource")
        + _encoder_xml(camera, profile, "tr2:VideoEncoder")
        + "</tr2:Configurations></tr2:Profiles>"
    )


def get_profiles(camera: CameraSpec, args: dict, now: datetime) -> str:
    token = args.get("Token")
    if token is not None and token not in PROFILE_TOKENS:
        raise invalid_arg("NoProfile", "The requested profile token does not exist")
    tokens = [token] if isinstance(token, str) else list(PROFILE_TOKENS)
    profiles = "".join(_profile_xml(camera, p) for p in tokens)
    return f"<tr2:GetProfilesResponse>{profiles}</tr2:GetProfilesResponse>"


def get_video_encoder_configurations(camera: CameraSpec, args: dict, now: datetime) -> str:
    by_token = {encoder_token(p): p for p in PROFILE_TOKENS}
    profiles = list(PROFILE_TOKENS)
    if isinstance(args.get("ConfigurationToken"), str):
        if args["ConfigurationToken"] not in by_token:
            raise invalid_arg("NoConfig", "The requested configuration does not exist")
        profiles = [by_token[args["ConfigurationToken"]]]
    elif args.get("ProfileToken") is not None:
        profiles = [profile_arg(args)]
    configs = "".join(_encoder_xml(camera, p, "tr2:Configurations") for p in profiles)
    return (
        f"<tr2:GetVideoEncoderConfigurationsResponse>{configs}"
        "</tr2:GetVideoEncoderConfigurationsResponse>"
    )


def get_video_source_configurations(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tr2:GetVideoSourceConfigurationsResponse>"
        + video_source_configuration_xml(camera, "tr2:Configurations")
        + "</tr2:GetVideoSourceConfigurationsResponse>"
    )


def get_stream_uri(camera: CameraSpec, args: dict, now: datetime) -> str:
    profile = profile_arg(args)
    protocol = args.get("Protocol", "RtspUnicast")
    if protocol not in STREAM_PROTOCOLS:
        raise invalid_arg("InvalidStreamSetup", "Only RtspUnicast streaming is supported")
    uri = text(camera.rtsp_url(profile))
    return f"<tr2:GetStreamUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetStreamUriResponse>"


def get_snapshot_uri(camera: CameraSpec, args: dict, now: datetime) -> str:
    uri = text(snapshot_url(camera, profile_arg(args)))
    return f"<tr2:GetSnapshotUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetSnapshotUriResponse>"


def get_service_capabilities(camera: CameraSpec, args: dict, now: datetime) -> str:
    return (
        "<tr2:GetServiceCapabilitiesResponse>"
        + media2_service_capabilities_xml()
        + "</tr2:GetServiceCapabilitiesResponse>"
    )


MEDIA2_OPERATIONS = {
    "GetProfiles": get_profiles,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoSourceConfigurations": get_video_source_configurations,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
    "GetServiceCapabilities": get_service_capabilities,
}
