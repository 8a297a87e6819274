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
from importlib import resources
from pathlib import Path
from typing import Any

from mlstrat._exceptions import MlstratError
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
    return _finite(out)


class _Guard:
    """ASGI middleware: 403 without the token (before routing), security headers on every response."""

    def __init__(self, app: Any, *, authorized: Any, forbidden: Any) -> None:
        self.app, self.authorized, self.forbidden = app, authorized, forbidden

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.datastructures import MutableHeaders
        from starlette.requests import Request

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
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        Response,
    )
    from starlette.routing import Route

    token = token or secrets.token_urlsafe(24)
    # cookies are per host, not per port: a per-server name keeps two UIs from clobbering each other
    cookie = "mlstrat_token_" + hashlib.sha256(token.encode()).hexdigest()[:12]
    view = _View(store)
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: _asset(f"templates/{name}").decode("utf-8")),
        autoescape=True,
    )

    def authorized(request: Request) -> bool:
        given = request.headers.get("x-mlstrat-token")
        if request.method not in (
            "GET",
            "HEAD",
        ):  # changes need the header: a cookie alone is not enough
            return bool(given) and secrets.compare_digest(given.encode(), token.encode())
        given = given or request.query_params.get("token") or request.cookies.get(cookie)
        return bool(given) and secrets.compare_digest(given.encode(), token.encode())

    def secure(response: Response) -> Response:
        for k, v in _HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def forbidden() -> Response:
        return secure(
            PlainTextResponse(
                "403 Forbidden: open the URL printed by 'mlstrat errors ui' (it carries the token)",
                status_code=403,
            )
        )

    def not_found() -> Response:
        return secure(PlainTextResponse("404 Not Found", status_code=404))

    def state(pos: int | None = None) -> dict[str, Any]:
        rows = store.rows()
        pos = store.position() if pos is None else pos
        pos = max(0, min(pos, len(rows) - 1)) if rows else 0
        return _finite(
            {
                "sheet": store.sheet.name,
                "split": store.meta.get("split"),
                "split_error": store.meta.get("split_error"),
                "categories": store.categories(),
                "position": pos,
                "total": len(rows),
                "rows": [
                    {
                        "id": r["id"],
                        "tags": r["tags"],
                        "sampled_as": r["cells"].get("sampled_as") or "error",
                    }
                    for r in rows
                ],
                "row": view.detail(rows[pos], pos, len(rows)) if rows else None,
                "progress": store.progress(),
                "summary": _summary_dict(store),
            }
        )

    async def index(request: Request) -> Response:
        data = state()
        html = env.get_template("index.html").render(
            state=data,
            state_json=json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
            token=token,
            keys=list(range(1, 10)),
        )
        response = secure(HTMLResponse(html))
        response.set_cookie(cookie, token, httponly=True, samesite="strict", path="/")
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return not_found()
        return secure(Response(_asset(f"static/{name}"), media_type=_STATIC[name]))

    async def file(request: Request) -> Response:
        listed = view.files.get(request.path_params["path"])
        found = servable_file(listed) if listed is not None else None
        if found is None:
            return not_found()
        return secure(FileResponse(found[0], media_type=found[1]))

    def api_state(request: Request) -> Response:
        return secure(JSONResponse(state()))

    def api_row(request: Request) -> Response:
        try:
            pos = int(request.path_params["pos"])
        except ValueError:
            return not_found()
        rows = store.rows()
        if not 0 <= pos < len(rows):
            return not_found()
        return secure(JSONResponse(_finite(view.detail(rows[pos], pos, len(rows)))))

    async def mutate(request: Request, action: str) -> Response:
        try:
            body = parse_body(await _read_capped(request), action)
        except BadRequest as exc:
            return secure(JSONResponse({"error": str(exc)}, status_code=400))
        try:
            result = await _run(action, body)
        except MlstratError as exc:
            return secure(JSONResponse({"error": str(exc)}, status_code=400))
        return secure(JSONResponse(_finite(result)))

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

    async def _run(action: str, body: dict[str, Any]) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        def work() -> dict[str, Any]:
            extra: dict[str, Any] = {}
            if action == "tag":
                store.set_tag(body["id"], body["category"], body["on"])
            elif action == "comment":
                store.set_comment(body["id"], body["text"])
            elif action == "category":
                extra["added"] = store.add_category(body["name"])
            elif action == "position":
                store.set_position(body["position"])
                return {
                    "ok": True,
                    "position": store.position(),
                    "progress": store.progress(),
                    "summary": _summary_dict(store),
                }
            rows = {r["id"]: r for r in store.rows()}
            row = rows.get(str(body.get("id", "")))
            return {
                "ok": True,
                **extra,
                "categories": store.categories(),
                "row": {"id": row["id"], "tags": row["tags"], "comment": row["comment"], "reviewed": row["reviewed"]}
                if row
                else None,
                "progress": store.progress(),
                "summary": _summary_dict(store),
            }

        return await run_in_threadpool(work)

    async def api_tag(request: Request) -> Response:
        return await mutate(request, "tag")

    async def api_comment(request: Request) -> Response:
        return await mutate(request, "comment")

    async def api_category(request: Request) -> Response:
        return await mutate(request, "category")

    async def api_position(request: Request) -> Response:
        return await mutate(request, "position")

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/file/{path:path}", file),
        Route("/api/state", api_state),
        Route("/api/rows/{pos}", api_row),
        Route("/api/tag", api_tag, methods=["POST"]),
        Route("/api/comment", api_comment, methods=["POST"]),
        Route("/api/category", api_category, methods=["POST"]),
        Route("/api/position", api_position, methods=["POST"]),
    ]
    middleware = (
        [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    )
    middleware.append(Middleware(_Guard, authorized=authorized, forbidden=forbidden))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.token = token
    app.state.store = store
    return app
