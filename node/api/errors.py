"""Every error the API answers is JSON `{"error": reason, ...}`; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.api.models import ErrorOut
from node.system import StateError

log = logging.getLogger(__name__)

# what each error status means on this API (the OpenAPI descriptions)
ERROR_MEANINGS = {
    400: "the body could not be read (not UTF-8 text)",
    401: "no valid bearer token, or wrong credentials",
    403: "the caller's role does not allow this",
    404: "no such resource",
    409: "conflicts with the current state (e.g. this server is undefined, a name exists)",
    413: "request body larger than 1 MiB",
    422: "the request is invalid: `detail` lists each field",
    429: "too many failed attempts: wait `Retry-After` seconds",
    502: "the camera or server at the given address answered wrongly or not at all",
    503: "a local service this needs is not available",
    504: "the camera or server at the given address did not answer in time",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses, all with the JSON error body."""
    return {
        status: {"model": ErrorOut, "description": ERROR_MEANINGS[status]} for status in statuses
    }


class ApiError(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Readable errors; the input values are left out (they may be passwords)."""
    return [
        {
            "loc": _loc(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StateError)
    async def _state_error(_request: Request, exc: StateError) -> JSONResponse:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = validation_detail(list(exc.errors()))
        first = detail[0] if detail else {"loc": "", "msg": "invalid request"}
        reason = (
            f"invalid request: {first['loc']}: {first['msg']}"
            if first["loc"]
            else f"invalid request: {first['msg']}"
        )
        return JSONResponse({"error": reason, "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            {"error": reason}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal error"}, status_code=500)
