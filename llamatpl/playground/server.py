"""The playground's ASGI app (Starlette) and the server that runs it (uvicorn).

``GET /`` is the page (plain HTML, CSS and JavaScript shipped in ``static/``); ``GET /api/catalog``
lists the bundled templates, fixtures, versions and engines; ``POST /api/render``, ``/api/lint``,
``/api/verify`` and ``/api/diff`` run in worker processes (:mod:`.workers`) with a time bound. A
body larger than :attr:`Settings.max_body` is refused with 413 before it is read whole. The server
writes no files. ``docs/playground.md`` documents the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import LlamatplError
from .api import HANDLERS
from .workers import WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
MiB = 1 << 20


@dataclass(frozen=True)
class Settings:
    """How the playground serves: request size, time bounds, workers, and what the page starts with."""

    max_body: int = 4 * MiB
    seconds: float = 15.0  # render, lint, diff: one request, in its worker, from start to answer
    verify_seconds: float = 120.0
    workers: int = 2
    # Host headers answered: a web page elsewhere cannot reach the playground by DNS rebinding
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    template: str = ""  # the template text (or bundled name) the page opens with
    conversation: Any = None  # the conversation the page opens with (JSON)

    def bound(self, kind: str) -> float:
        return self.verify_seconds if kind == "verify" else self.seconds


class AsciiJSON(JSONResponse):
    """JSON with non-ASCII escaped: a prompt holding a lone surrogate still encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def catalog(settings: Settings) -> dict[str, Any]:
    """What the page's menus offer: bundled templates (with their text), fixtures, versions, engines."""
    from ..engines import DEFAULT, NAMES
    from ..resources import bundled_dir, bundled_names, read_bundled_template
    from ..versions import VERSIONS

    fixtures = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                for p in sorted(bundled_dir("fixtures").glob("*.json"))}
    templates = {name: read_bundled_template(*name.split(":", 1)) for name in bundled_names()}
    return {"templates": templates, "fixtures": fixtures, "versions": list(VERSIONS), "engines": list(NAMES),
            "default_engine": DEFAULT, "start": {"template": settings.template, "conversation": settings.conversation},
            "max_body": settings.max_body, "seconds": settings.seconds, "verify_seconds": settings.verify_seconds}


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` once it passes ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: Settings | None = None) -> Starlette:
    """The playground as an ASGI app (workers start on first use and stop with the app)."""
    settings = settings or Settings()
    pool = WorkerPool(settings.workers)
    menus = catalog(settings)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def show_catalog(request: Request) -> Response:
        return AsciiJSON(menus)

    async def api(request: Request) -> Response:
        kind = request.path_params["kind"]
        # JSON only: another site's form or plain-text POST (no CORS preflight) is refused unread
        if request.headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
            return AsciiJSON({"error": "send the body as Content-Type: application/json"}, status_code=415)
        if kind not in HANDLERS:
            return AsciiJSON({"error": f"no such API: /api/{kind} ({', '.join(HANDLERS)})"}, status_code=404)
        raw = await read_body(request, settings.max_body)
        if raw is None:
            return AsciiJSON({"error": f"request body larger than {settings.max_body:,} bytes"}, status_code=413)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return AsciiJSON({"error": f"the request body is not JSON: {exc}"}, status_code=400)
        try:
            status, answer = await asyncio.to_thread(pool.call, kind, body, settings.bound(kind))
        except asyncio.CancelledError:  # Ctrl-C while it ran: answer, rather than log a traceback
            return AsciiJSON({"error": "the playground is stopping"}, status_code=503)
        return AsciiJSON(answer, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()

    routes = [
        Route("/", page),
        Route("/api/catalog", show_catalog),
        Route("/api/{kind:str}", api, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))])
    app.state.pool = pool
    return app


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          announce: Any = None) -> None:
    """Run the playground until Ctrl-C; ``announce(url)`` is called once it listens."""
    import threading
    import webbrowser

    import uvicorn

    _check_free(host, port)
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=3)
    pool: WorkerPool = app.state.pool

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Ctrl-C ends the work in progress at once: its requests answer 503 and the server stops
            threading.Thread(target=pool.close, daemon=True).start()
            super().handle_exit(sig, frame)

    server = Server(config)

    def when_ready() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started:
            if announce:
                announce(url)
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=when_ready, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


def _check_free(host: str, port: int) -> None:
    """Fail with one line, before anything starts, when the address cannot be listened on."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LlamatplError(f"playground: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
