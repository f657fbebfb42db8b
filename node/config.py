"""Node configuration: default file < user file < CAMKEEP_* environment < flags.

Everything is validated by one pydantic model; any problem becomes a `ConfigError`
whose message is one line naming the key, e.g. `retention.max_bytes: must be > 0`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from node.digits import is_digits
from node.urls import http_url

ENV_PREFIX = "CAMKEEP_"
# The most channels (cameras recorded at once) any server may have, whatever its
# licence says: the failover function never takes a server past it.
MAX_CHANNELS = 128
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class ConfigError(Exception):
    """A configuration problem; str() is the one line shown to the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionConfig(_Section):
    max_bytes: int | None = Field(default=None, gt=0)
    min_free_bytes: int | None = Field(default=None, gt=0)
    max_age_days: float | None = Field(default=None, gt=0)


class LoginConfig(_Section):
    free_failures: int = Field(default=3, ge=0, le=100)
    base_delay_s: float = Field(default=1.0, gt=0, le=3600)
    max_delay_s: float = Field(default=60.0, gt=0, le=86400)
    reset_after_s: float = Field(default=900.0, gt=0)


class GossipConfig(_Section):
    """Membership timing as the operator states it; node.membership.membership_config
    turns it into the failure detector's settings (and explains the formula)."""

    interval_s: float = Field(default=0.2, gt=0, le=60)
    suspect_after_s: float = Field(default=1.0, gt=0, le=600)
    dead_after_s: float = Field(default=2.0, gt=0, le=3600)
    # a peer's clock this far from ours is "skewed"; below the 30 s authentication
    # window, beyond which its messages are refused anyway
    clock_warning_s: float = Field(default=2.0, ge=0.1, lt=30)


class FailoverConfig(_Section):
    plan_interval_s: float = Field(default=0.5, gt=0, le=60)
    failback_delay_s: float = Field(default=5.0, ge=0, le=3600)


class EventsConfig(_Section):
    max_age_days: float = Field(default=30.0, gt=0, le=3650)
    max_count: int = Field(default=100_000, ge=100, le=10_000_000)
    disk_nearly_full_ratio: float = Field(default=0.05, gt=0, lt=1)


class MetricsConfig(_Section):
    # None: GET /metrics is open to anyone who reaches the listen address
    token: str | None = Field(default=None, min_length=16, max_length=256)


class LiveConfig(_Section):
    # STUN/TURN URLs for WebRTC live view ("stun:host:port", "turn:host:port"); empty:
    # host candidates on the listen address only, for browsers on the same network.
    ice_servers: tuple[str, ...] = ()
    turn_username: str | None = Field(default=None, max_length=256)
    turn_password: str | None = Field(default=None, max_length=256)
    # playback: at most this much recorded video per request (the next starts there)
    playback_window_s: float = Field(default=3600.0, ge=10, le=24 * 3600)

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _servers_from_text(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("ice_servers")
    @classmethod
    def _servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith(("stun:", "turn:", "turns:")) or len(url) > 256:
                raise ValueError(f"{url[:64]!r} is not a stun:, turn: or turns: URL")
        return value


class GapFillConfig(_Section):
    """Filling recording gaps from the cameras' own storage (ONVIF Profile G)."""

    enabled: bool = True
    max_bytes_per_s: int = Field(default=4_000_000, gt=0)  # all fills of this node together
    max_concurrent: int = Field(default=2, ge=1, le=64)
    lookback_s: float = Field(default=600.0, gt=0, le=7 * 86400)
    sweep_interval_s: float = Field(default=30.0, gt=0, le=3600)


class DiscoveryConfig(_Section):
    ws_discovery_port: int = Field(default=3702, ge=1, le=65535)
    ws_discovery_timeout_s: float = Field(default=2.0, gt=0, le=30)
    interfaces: tuple[str, ...] = ()
    mdns: bool = True

    @field_validator("interfaces", mode="before")
    @classmethod
    def _interfaces_from_text(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("interfaces")
    @classmethod
    def _interfaces(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IPv4 address") from None
        return value


class NodeConfig(_Section):
    name: str = Field(default="", max_length=64)
    listen: str = "127.0.0.1:7480"
    data_dir: Path = Path("./data")
    peers: tuple[str, ...] = ()
    join_token: str | None = Field(default=None, max_length=512)
    licensed_channels: int = Field(default=MAX_CHANNELS, ge=1, le=MAX_CHANNELS)
    segment_seconds: float = Field(default=60.0, ge=1, le=3600)
    token_ttl_s: float = Field(default=43200.0, ge=1, le=30 * 86400)
    retention: RetentionConfig = RetentionConfig()
    login: LoginConfig = LoginConfig()
    gossip: GossipConfig = GossipConfig()
    failover: FailoverConfig = FailoverConfig()
    gapfill: GapFillConfig = GapFillConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    events: EventsConfig = EventsConfig()
    metrics: MetricsConfig = MetricsConfig()
    live: LiveConfig = LiveConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if any(ord(c) < 32 for c in value):
            raise ValueError("must not contain control characters")
        return value or socket.gethostname()[:64]

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_host_port(value)
        return value

    @field_validator("peers", mode="before")
    @classmethod
    def _peers_from_text(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("peers")
    @classmethod
    def _peers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(http_url(url, what=f"{url[:80]!r}") for url in value)

    @property
    def listen_host(self) -> str:
        return parse_host_port(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return parse_host_port(self.listen)[1]


def split_commas(value: Any) -> Any:
    """A list given as text (environment variables): comma-separated."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


def parse_host_port(value: str) -> tuple[str, int]:
    """'HOST:PORT' or '[v6]:PORT' -> (host, port); ValueError with a reason."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError("must be HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not is_digits(port_text) or not 0 < int(port_text) < 65536:
        raise ValueError("port must be 1-65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME_RE.match(host):
            raise ValueError(f"{host!r} is not an IP address or host name") from None
    return host, int(port_text)


def default_config_text() -> str:
    return resources.files("node").joinpath("default_config.toml").read_text()


def _read_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{origin}: invalid TOML: {error}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    return _read_toml(text, str(path))


def env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """CAMKEEP_A__B=v -> {"a": {"b": "v"}}, only for keys NodeConfig knows (other
    CAMKEEP_* variables, such as the CLI's CAMKEEP_USER, are not configuration).
    Also returns key path -> variable name, to name the variable in errors."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for var, text in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        path = var[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in NodeConfig.model_fields:
            continue
        target = values
        for part in path[:-1]:
            existing = target.setdefault(part, {})
            if not isinstance(existing, dict):
                break
            target = existing
        else:
            target[path[-1]] = text
            origins[".".join(path)] = var
    return values, origins


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "extra_forbidden": "unknown key",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "string_too_long": "must be at most {max_length} characters",
    "model_type": "must be a table",
    "tuple_type": "must be a list",
    "path_type": "must be a path",
}


def _describe(error: dict[str, Any]) -> str:
    template = _MESSAGES.get(error["type"])
    if template:
        ctx = {
            k: (f"{v:g}" if isinstance(v, float) else v) for k, v in error.get("ctx", {}).items()
        }
        return template.format(**ctx)
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def validate_config(
    values: Mapping[str, Any], origins: Mapping[str, str] | None = None
) -> NodeConfig:
    try:
        return NodeConfig.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        key = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "(top level)"
        source = (origins or {}).get(key)
        line = f"{key}: {_describe(first)}"
        if source:
            line += f" (from {source})"
        if len(errors) > 1:
            line += f" (and {len(errors) - 1} more)"
        raise ConfigError(line) from None


def load_config(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    data_dir: Path | None = None,
    listen: str | None = None,
    peers: Sequence[str] = (),
    join_token: str | None = None,
) -> NodeConfig:
    """Build the node's configuration from every source (see module docstring)."""
    values = _read_toml(default_config_text(), "default configuration")
    if config_file is not None:
        values = _merge(values, read_config_file(config_file))
    env_values, origins = env_overrides(os.environ if environ is None else environ)
    values = _merge(values, env_values)
    flags: dict[str, Any] = {}
    if name is not None:
        flags["name"] = name
    if data_dir is not None:
        flags["data_dir"] = str(data_dir)
    if listen is not None:
        flags["listen"] = listen
    if peers:
        earlier = values.get("peers", [])
        if isinstance(earlier, str):  # comma-separated, from the environment
            earlier = [p.strip() for p in earlier.split(",") if p.strip()]
        flags["peers"] = [*earlier, *peers]
    if join_token is not None:
        flags["join_token"] = join_token
    values = _merge(values, flags)
    flag_names = {
        "name": "--name",
        "data_dir": "--data",
        "listen": "--listen",
        "peers": "--peer",
        "join_token": "--join-token",
    }
    origins = {**origins, **{key: flag_names[key] for key in flags}}
    return validate_config(values, origins)
