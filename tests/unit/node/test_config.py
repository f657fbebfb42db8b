"""Configuration: defaults, sources in order, and one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import ConfigError, default_config_text, load_config, parse_host_port

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_default_matches_repository_copy() -> None:
    assert default_config_text() == (ROOT / "config" / "camkeep.toml").read_text()


def test_defaults() -> None:
    config = load_config(environ={})
    assert config.listen == "127.0.0.1:7480"
    assert config.listen_host == "127.0.0.1" and config.listen_port == 7480
    assert config.licensed_channels == 128
    assert config.segment_seconds == 60
    assert config.retention.max_bytes is None
    assert config.name  # host name when empty
    assert config.gossip.dead_after_s > config.gossip.suspect_after_s


def test_sources_in_order(tmp_path: Path) -> None:
    user_file = tmp_path / "c.toml"
    user_file.write_text(
        'name = "from-file"\nlisten = "127.0.0.1:1000"\n[retention]\nmax_bytes = 5\n'
    )
    env = {"CAMKEEP_LISTEN": "127.0.0.1:2000", "CAMKEEP_RETENTION__MAX_BYTES": "7"}
    config = load_config(user_file, env)
    assert config.name == "from-file"
    assert config.listen == "127.0.0.1:2000"  # env beats file
    assert config.retention.max_bytes == 7
    config = load_config(user_file, env, listen="127.0.0.1:3000", name="flag")
    assert (config.listen, config.name) == ("127.0.0.1:3000", "flag")  # flags beat env


def test_env_peers_and_foreign_variables() -> None:
    env = {
        "CAMKEEP_PEERS": "http://127.0.0.2:7480, http://127.0.0.3:7480",
        "CAMKEEP_USER": "not configuration",
        "CAMKEEP_PASSWORD": "x",
    }
    config = load_config(environ=env, peers=["http://127.0.0.4:7480"])
    assert config.peers == (
        "http://127.0.0.2:7480",
        "http://127.0.0.3:7480",
        "http://127.0.0.4:7480",
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"CAMKEEP_RETENTION__MAX_BYTES": "0"},
            "retention.max_bytes: must be > 0 (from CAMKEEP_RETENTION__MAX_BYTES)",
        ),
        (
            {"CAMKEEP_RETENTION__MAX_BYTES": "lots"},
            "retention.max_bytes: must be an integer (from CAMKEEP_RETENTION__MAX_BYTES)",
        ),
        ({"CAMKEEP_LISTEN": "nowhere"}, "listen: must be HOST:PORT (from CAMKEEP_LISTEN)"),
        (
            {"CAMKEEP_LISTEN": "127.0.0.1:70000"},
            "listen: port must be 1-65535 (from CAMKEEP_LISTEN)",
        ),
        (
            {"CAMKEEP_LISTEN": "127.0.0.1:²"},  # str.isdigit() takes it, int() does not
            "listen: port must be 1-65535 (from CAMKEEP_LISTEN)",
        ),
        (
            {"CAMKEEP_LISTEN": "bad host!:80"},
            "listen: 'bad host!' is not an IP address or host name (from CAMKEEP_LISTEN)",
        ),
        (
            {"CAMKEEP_LICENSED_CHANNELS": "129"},
            "licensed_channels: must be <= 128 (from CAMKEEP_LICENSED_CHANNELS)",
        ),
        (
            {"CAMKEEP_LICENSED_CHANNELS": "0"},
            "licensed_channels: must be >= 1 (from CAMKEEP_LICENSED_CHANNELS)",
        ),
        (
            {"CAMKEEP_SEGMENT_SECONDS": "abc"},
            "segment_seconds: must be a number (from CAMKEEP_SEGMENT_SECONDS)",
        ),
        ({"CAMKEEP_TOKEN_TTL_S": "0.5"}, "token_ttl_s: must be >= 1 (from CAMKEEP_TOKEN_TTL_S)"),
        (
            {"CAMKEEP_DISCOVERY__INTERFACES": "127.0.0.1,eth0"},
            "discovery.interfaces: 'eth0' is not an IPv4 address"
            " (from CAMKEEP_DISCOVERY__INTERFACES)",
        ),
        (
            {"CAMKEEP_PEERS": "ftp://x"},
            "peers: 'ftp://x' must start with http:// or https:// (from CAMKEEP_PEERS)",
        ),
        (
            {"CAMKEEP_LOGIN__BASE_DELAY_S": "-1"},
            "login.base_delay_s: must be > 0 (from CAMKEEP_LOGIN__BASE_DELAY_S)",
        ),
        (
            {"CAMKEEP_GOSSIP__INTERVAL_S": "0"},
            "gossip.interval_s: must be > 0 (from CAMKEEP_GOSSIP__INTERVAL_S)",
        ),
        ({"CAMKEEP_NAME": "x" * 65}, "name: must be at most 64 characters (from CAMKEEP_NAME)"),
    ],
)
def test_bad_env_value_gives_one_line(env: dict[str, str], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ=env)
    assert str(caught.value) == line
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[retention]\nmax_bytes = -5\n", "retention.max_bytes: must be > 0"),
        ("[retention]\nmax_age_days = 0\n", "retention.max_age_days: must be > 0"),
        ("colour = 'red'\n", "colour: unknown key"),
        ("[retention]\nmax_gigs = 1\n", "retention.max_gigs: unknown key"),
        ("retention = 5\n", "retention: must be a table"),
        ("peers = 5\n", "peers: must be a list"),
        ("licensed_channels = 1.5\n", "licensed_channels: must be an integer"),
        ("listen = 7480\n", "listen: must be a string"),
        ("[gossip]\nclock_warning_s = 30\n", "gossip.clock_warning_s: must be < 30"),
        ("[gossip]\nclock_warning_s = 0\n", "gossip.clock_warning_s: must be >= 0.1"),
    ],
)
def test_bad_file_value_gives_one_line(tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "camkeep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value) == line


def test_bad_flag_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={}, listen="x")
    assert str(caught.value) == "listen: must be HOST:PORT (from --listen)"


def test_several_errors_still_one_line() -> None:
    env = {"CAMKEEP_LISTEN": "x", "CAMKEEP_SEGMENT_SECONDS": "0"}
    with pytest.raises(ConfigError) as caught:
        load_config(environ=env)
    assert str(caught.value).endswith("(and 1 more)")
    assert "\n" not in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file"):
        load_config(tmp_path / "missing.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("listen = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: invalid TOML"):
        load_config(broken, {})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_config(binary, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("[::1]:7480", ("::1", 7480)),
        ("node-1.lan:1", ("node-1.lan", 1)),
    ],
)
def test_parse_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected
