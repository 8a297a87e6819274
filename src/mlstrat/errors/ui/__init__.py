"""The browser UI for tagging a sheet (``mlstrat errors ui sheet.csv``).

Starlette + uvicorn on 127.0.0.1 only, a random token in the URL, every asset inside this
package. The working store is SQLite (WAL) beside the sheet; the CSV is re-exported
atomically after every acknowledged change.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from mlstrat._exceptions import ConfigError
from mlstrat.errors.ui._app import create_app
from mlstrat.errors.ui._store import TagStore, store_path

__all__ = ["TagStore", "create_app", "serve", "store_path", "bind"]


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0 = a free port chosen by the system)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port: {port} is not a port number; give 1-65535, or 0 for a free port")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # a restart on the same --port must not wait for the old connections' TIME_WAIT
    # (Linux still refuses the port while another socket listens on it)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"port: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
            "choose another --port, or 0 for a free one"
        ) from None
    sock.listen(128)
    return sock


def serve(
    sheet: str | os.PathLike,
    *,
    port: int = 0,
    open_browser: bool = True,
    mislabeled: str = "mislabeled",
    on_ready: Callable[[str], Any] | None = None,
    image_shape: Any = None,
) -> None:
    """Serve the tagging UI for ``sheet`` until interrupted.

    Parameters
    ----------
    sheet : path-like
        A sheet written by :func:`mlstrat.errors.sample_errors` (its meta file beside it).
    port : int, default=0
        Port on 127.0.0.1; 0 picks a free one.
    open_browser : bool, default=True
        Open the URL in the default browser.
    mislabeled : str, default="mislabeled"
        The category that splits the error in the live summary.
    on_ready : callable, default=None
        Called with the URL (``http://127.0.0.1:PORT/?token=...``) once the socket listens;
        the CLI prints it as the first line of stdout.
    image_shape : str or sequence of int, default=None
        ``HxW`` or ``CxHxW`` of the sheet's pixel columns; overrides the shape in its meta file.
    """
    import uvicorn

    from mlstrat.errors._context import parse_image_shape

    shape = parse_image_shape(image_shape)
    store = TagStore(sheet, mislabeled=mislabeled)
    if shape is not None:
        store.meta["image_shape"] = list(shape)
    token = secrets.token_urlsafe(24)
    app = create_app(store, token=token, allowed_hosts=["127.0.0.1", "localhost"])
    sock = bind(port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={token}"
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
        sock.close()
