"""The tagging web app (Starlette): server-rendered page, a small JSON API, guarded files.

Security model: the server binds 127.0.0.1 only; every request must carry the random token
(``?token=``, the ``X-Mlstrat-Token`` header, or the cookie the page sets); changes (POST)
need the header, so a cookie alone cannot forge them. The cookie's name carries a hash of the
token: two UIs on one host (dev and test sheets) each keep their own. Files are served only
when their exact path text is a value of the sheet and they are regular image files (the rules
in :mod:`mlstrat.errors.ui._guard`); there is no directory listing.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import sqlite3
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mlstrat._exceptions import MlstratError
from mlstrat.display._error_analysis import summary_rows
from mlstrat.display._numbers import format_pct
from mlstrat.errors.ui._example import layout_columns, render_example
from mlstrat.errors.ui._guard import IMAGE_TYPES, MAX_BODY, BadRequest, parse_body, servable_file
from mlstrat.errors.ui._store import TagStore

__all__ = ["create_app", "IMAGE_TYPES"]

_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _asset(name: str) -> bytes:
    """A file shipped in this package (``templates/...`` or ``static/...``)."""
    node = resources.files("mlstrat.errors.ui")
    for part in name.split("/"):  # one part at a time: Traversable.joinpath takes one on 3.10
        node = node.joinpath(part)
    return node.read_bytes()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class _View:
    """How rows are shown (see ``_example``), and which file paths may be served."""

    def __init__(self, store: TagStore) -> None:
        rows = store.rows()
        self.meta = store.meta
        self.layout = layout_columns(store.fixed, rows, store.meta)
        self.sheet_dir = store.sheet.parent
        # the exact path texts that may be served, and where they live
        self.files: dict[str, Path] = {}
        for r in rows:
            for c in self.layout.images + self.layout.audio:
                value = r["cells"].get(c)
                if value:
                    p = Path(value)
                    self.files[value] = p if p.is_absolute() else self.sheet_dir / p

    def detail(self, row: dict[str, Any], pos: int, total: int) -> dict[str, Any]:
        cells = row["cells"]
        return {
            "pos": pos,
            "total": total,
            "id": row["id"],
            "y_true": cells.get("y_true", ""),
            "y_pred": cells.get("y_pred", ""),
            "sampled_as": cells.get("sampled_as", "error") or "error",
            **render_example(self.layout, cells, self.meta),
            "tags": row["tags"],
            "comment": row["comment"],
            "reviewed": row["reviewed"],
        }


def _summary_dict(store: TagStore) -> dict[str, Any]:
    summary = store.summary()
    out = summary.to_dict()
    out["advice"] = summary.advice
    out["untagged"] = len(summary.untagged)
    # the figures as `errors summarize` and the report print them (the page shows these texts)
    out["shown"] = summary_rows(out)
    return _finite(out)


class _Guard:
    """ASGI middleware: 403 without the token (before routing), security headers on every response."""

    def __init__(self, app: Any, *, authorized: Any, forbidden: Any) -> None:
        self.app, self.authorized, self.forbidden = app, authorized, forbidden

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.datastructures import MutableHeaders

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.authorized(Request(scope)):
            await self.forbidden()(scope, receive, send)
            return

        async def send_secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in _HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        await self.app(scope, receive, send_secured)


@dataclass
class _UI:
    """What every handler needs: the store, the row view, the page template and the secret."""

    store: TagStore
    view: _View
    pages: Any  # jinja2.Environment
    token: str
    cookie: str


def _ui(request: Request) -> _UI:
    return request.app.state.ui


def _authorized(ui: _UI, request: Request) -> bool:
    given = request.headers.get("x-mlstrat-token")
    if request.method not in ("GET", "HEAD"):  # changes need the header: a cookie alone is not enough
        return bool(given) and secrets.compare_digest(given.encode(), ui.token.encode())
    given = given or request.query_params.get("token") or request.cookies.get(ui.cookie)
    return bool(given) and secrets.compare_digest(given.encode(), ui.token.encode())


def _secure(response: Response) -> Response:
    for k, v in _HEADERS.items():
        response.headers.setdefault(k, v)
    return response


def _forbidden() -> Response:
    return _secure(PlainTextResponse(
        "403 Forbidden: open the URL printed by 'mlstrat errors ui' (it carries the token)", status_code=403))


def _not_found() -> Response:
    return _secure(PlainTextResponse("404 Not Found", status_code=404))


def _error(message: str, status: int) -> Response:
    return _secure(JSONResponse({"error": message}, status_code=status))


def _split_figure(meta: dict[str, Any]) -> str:
    """The split's figure in the header: "error 12.3%", or a loss sheet's metric in its own unit."""
    value = meta.get("split_error")
    metric = meta.get("metric") if "total_loss" in meta else None
    if isinstance(metric, dict) and metric.get("unit") != "rate":
        name = str(metric.get("name") or "loss")
        return f"{name} {float(value):.4g}" if isinstance(value, (int, float)) else f"{name} -"
    return "error " + format_pct(value)


def _state(ui: _UI, pos: int | None = None) -> dict[str, Any]:
    """Everything the page shows: the sheet, its categories, the rows' marks and one row in full."""
    store = ui.store
    rows = store.rows()
    pos = store.position() if pos is None else pos
    pos = max(0, min(pos, len(rows) - 1)) if rows else 0
    return _finite({
        "sheet": store.sheet.name,
        "split": store.meta.get("split"),
        "split_error": store.meta.get("split_error"),
        "split_figure": _split_figure(store.meta),
        "categories": store.categories(),
        "position": pos,
        "total": len(rows),
        "rows": [{"id": r["id"], "tags": r["tags"], "sampled_as": r["cells"].get("sampled_as") or "error"}
                 for r in rows],
        "row": ui.view.detail(rows[pos], pos, len(rows)) if rows else None,
        "progress": store.progress(),
        "summary": _summary_dict(store),
    })


async def _index(request: Request) -> Response:
    ui = _ui(request)
    data = _state(ui)
    html = ui.pages.get_template("index.html").render(
        state=data,
        # no "<" at all inside the script block: "</script" would end it and "<!--<script"
        # would make the browser read past its end
        state_json=json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"),
        token=ui.token,
        keys=list(range(1, 10)),
    )
    response = _secure(HTMLResponse(html))
    response.set_cookie(ui.cookie, ui.token, httponly=True, samesite="strict", path="/")
    return response


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:
        return _not_found()
    return _secure(Response(_asset(f"static/{name}"), media_type=_STATIC[name]))


async def _file(request: Request) -> Response:
    listed = _ui(request).view.files.get(request.path_params["path"])
    found = servable_file(listed) if listed is not None else None
    if found is None:
        return _not_found()
    return _secure(FileResponse(found[0], media_type=found[1]))


def _api_state(request: Request) -> Response:
    return _secure(JSONResponse(_state(_ui(request))))


def _api_row(request: Request) -> Response:
    ui = _ui(request)
    try:
        pos = int(request.path_params["pos"])
    except ValueError:
        return _not_found()
    rows = ui.store.rows()
    if not 0 <= pos < len(rows):
        return _not_found()
    return _secure(JSONResponse(_finite(ui.view.detail(rows[pos], pos, len(rows)))))


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(f"the request body is over {MAX_BODY >> 20} MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"the request body is over {MAX_BODY >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _apply(store: TagStore, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Make one change (durable when this returns) and answer with what the page updates."""
    extra: dict[str, Any] = {}
    if action == "tag":
        store.set_tag(body["id"], body["category"], body["on"])
    elif action == "comment":
        store.set_comment(body["id"], body["text"])
    elif action == "category":
        extra["added"] = store.add_category(body["name"])
    elif action == "position":
        store.set_position(body["position"])
        return {"ok": True, "position": store.position(), "progress": store.progress(),
                "summary": _summary_dict(store)}
    row = {r["id"]: r for r in store.rows()}.get(str(body.get("id", "")))
    return {
        "ok": True,
        **extra,
        "categories": store.categories(),
        "row": {"id": row["id"], "tags": row["tags"], "comment": row["comment"], "reviewed": row["reviewed"]}
        if row else None,
        "progress": store.progress(),
        "summary": _summary_dict(store),
    }


def _failure(store: TagStore, exc: Exception) -> Response | None:
    """The answer to a change that failed, or ``None`` for an error nobody foresaw (a 500).

    A full disk is 507 naming the file that could not be written; a store another process holds
    locked (two servers on one sheet) is 503; a refused change is 400. None is acknowledged.
    """
    from mlstrat.tables._outputs import DiskFullError, is_no_space

    if isinstance(exc, DiskFullError):
        return _error(f"{exc.path}: no space left on device; free some space, then repeat the change "
                      "(it was not saved to the sheet)", 507)
    if isinstance(exc, sqlite3.Error) and is_no_space(exc):
        return _error(f"{store.path}: no space left on device; free some space, then repeat the change "
                      "(it was not saved)", 507)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
        return _error(f"{store.path}: the tagging store is locked by another process (a second "
                      "'mlstrat errors ui' on this sheet?); close it, then repeat the change", 503)
    if isinstance(exc, MlstratError):
        return _error(str(exc), 400)
    return None


async def _change(request: Request, action: str) -> Response:
    """Validate the body of a POST to ``/api/<action>``, apply it off the event loop, answer."""
    from starlette.concurrency import run_in_threadpool

    store = _ui(request).store
    try:
        body = parse_body(await _read_capped(request), action)
    except BadRequest as exc:
        return _error(str(exc), 400)
    try:
        result = await run_in_threadpool(_apply, store, action, body)
    except Exception as exc:
        answer = _failure(store, exc)
        if answer is None:
            raise
        return answer
    return _secure(JSONResponse(_finite(result)))


async def _api_tag(request: Request) -> Response:
    return await _change(request, "tag")


async def _api_comment(request: Request) -> Response:
    return await _change(request, "comment")


async def _api_category(request: Request) -> Response:
    return await _change(request, "category")


async def _api_position(request: Request) -> Response:
    return await _change(request, "position")


_ROUTES = [
    Route("/", _index),
    Route("/static/{name}", _static),
    Route("/file/{path:path}", _file),
    Route("/api/state", _api_state),
    Route("/api/rows/{pos}", _api_row),
    Route("/api/tag", _api_tag, methods=["POST"]),
    Route("/api/comment", _api_comment, methods=["POST"]),
    Route("/api/category", _api_category, methods=["POST"]),
    Route("/api/position", _api_position, methods=["POST"]),
]


def create_app(
    store: TagStore, *, token: str | None = None, allowed_hosts: list[str] | None = None
) -> Any:
    """Build the Starlette app for ``store``.

    Parameters
    ----------
    store : TagStore
    token : str, default=None
        The secret every request must carry; a random one by default (``app.state.token``).
    allowed_hosts : list of str, default=None
        Accepted ``Host`` header names (``["127.0.0.1", "localhost"]`` when served; guards
        against DNS rebinding). ``None`` accepts any (tests).
    """
    import jinja2
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    token = token or secrets.token_urlsafe(24)
    pages = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _asset(f"templates/{name}").decode("utf-8")),
        autoescape=True,
    )
    # cookies are per host, not per port: a per-server name keeps two UIs from clobbering each other
    cookie = "mlstrat_token_" + hashlib.sha256(token.encode()).hexdigest()[:12]
    ui = _UI(store=store, view=_View(store), pages=pages, token=token, cookie=cookie)
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    middleware.append(Middleware(_Guard, authorized=partial(_authorized, ui), forbidden=_forbidden))
    app = Starlette(routes=_ROUTES, middleware=middleware)
    app.state.ui = ui
    app.state.token = token
    app.state.store = store
    return app
