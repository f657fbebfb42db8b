"""HTTP client of the management commands: one login per command, readable errors,
tables and a progress line on stderr."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

DEFAULT_SERVER = "http://127.0.0.1:7480"
TIMEOUT_S = 30.0
T = TypeVar("T")


class CliError(Exception):
    """Shown to the user as `camkeep: error: <message>`, exit code 1."""


def add_server_arguments(parser: argparse.ArgumentParser, *, credentials: bool = True) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("CAMKEEP_SERVER", DEFAULT_SERVER),
        metavar="URL",
        help="node API URL (env CAMKEEP_SERVER; default %(default)s)",
    )
    if credentials:
        parser.add_argument(
            "--user", default=os.environ.get("CAMKEEP_USER"), help="user name (env CAMKEEP_USER)"
        )
        parser.add_argument(
            "--password",
            default=os.environ.get("CAMKEEP_PASSWORD"),
            help="password (env CAMKEEP_PASSWORD)",
        )


def error_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return f"HTTP {response.status_code}"


class ApiClient:
    def __init__(
        self, server: str, username: str | None = None, password: str | None = None
    ) -> None:
        self.server = server.rstrip("/")
        self._username = username
        self._password = password
        self._http = httpx.Client(base_url=self.server, timeout=TIMEOUT_S)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def login(self) -> None:
        if not self._username or self._password is None:
            raise CliError("give --user and --password (or CAMKEEP_USER and CAMKEEP_PASSWORD)")
        answer = self.request(
            "POST",
            "/api/v1/auth/login",
            json={"username": self._username, "password": self._password},
            auth=False,
        )
        self._token = answer["token"]

    def _headers(self, auth: bool) -> dict[str, str]:
        if not auth:
            return {}
        if self._token is None:
            self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = self._headers(auth)
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise CliError(f"{self.server} did not answer in time") from None
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {self.server}: {error}") from None
        if response.status_code >= 400:
            raise CliError(error_reason(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def download(
        self, path: str, params: dict[str, str], out: Any, progress: Callable[[int], None]
    ) -> int:
        """Stream a body into `out`; returns the bytes written."""
        written = 0
        try:
            with self._http.stream(
                "GET", path, params=params, headers=self._headers(True), timeout=None
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise CliError(error_reason(response))
                for chunk in response.iter_bytes(64 * 1024):
                    out.write(chunk)
                    written += len(chunk)
                    progress(written)
        except httpx.HTTPError as error:
            raise CliError(f"download from {self.server} failed: {error}") from None
        return written


def client_from_args(args: argparse.Namespace) -> ApiClient:
    return ApiClient(args.server, getattr(args, "user", None), getattr(args, "password", None))


def run_command(body: Callable[[], int]) -> int:
    """Run a command body, turning CliError into one line and exit code 1."""
    try:
        return body()
    except CliError as error:
        print(f"camkeep: error: {error}", file=sys.stderr)
        return 1


def with_spinner(message: str, work: Callable[[], T]) -> T:
    """Run `work` in a thread while stderr shows `message` and a spinner."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as error:  # re-raised on the caller's thread
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    tty = sys.stderr.isatty()
    if not tty:
        print(f"{message} ...", file=sys.stderr, flush=True)
    for frame in itertools.cycle("|/-\\"):
        thread.join(0.1)
        if not thread.is_alive():
            break
        if tty:
            print(
                f"\r{message} {frame} {time.monotonic() - started:.1f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if tty:
        print("\r" + " " * (len(message) + 16) + "\r", end="", file=sys.stderr, flush=True)
    if "error" in result:
        raise result["error"]
    return result["value"]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(none)")


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
