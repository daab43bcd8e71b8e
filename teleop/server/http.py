"""The HTTP side of ``teleop serve``: the handshake gate and the browser UI's files.

``Gate.process_request`` runs for every HTTP request on the port. A websocket upgrade
is checked here, before it happens: a bad token gets 401 and a foreign Origin 403.
Any other GET is answered with a file from ``teleop/web/``.
"""

from __future__ import annotations

import dataclasses
import http
import logging
import mimetypes
import re
import weakref
from importlib import resources
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from teleop.session.auth import Identity, authenticate, extract_token

log = logging.getLogger(__name__)

_SECRETS = re.compile(r"(token=|Bearer\s+)[^\s&'\"]+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """Blanks tokens (``?token=...``, ``Bearer ...``) in the websockets library's logs,
    which at debug level print request lines and headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if _SECRETS.search(text):
            record.msg, record.args = _SECRETS.sub(r"\1<redacted>", text), None
        return True


def redact_tokens_in_logs() -> None:
    """Install ``RedactTokens`` on the websockets loggers (once)."""
    for name in ("websockets.server", "websockets.client", "websockets"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
WEB_PACKAGE = "teleop.web"


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """Who may connect.

    Attributes:
        token: The operators' shared token; None lets anyone on localhost in.
        admin_token: A token whose holder may take the lease over; None for none.
        allow_origins: Extra allowed Origins (``scheme://host[:port]``) besides the
            server's own host and localhost.
    """

    token: str | None = None
    admin_token: str | None = None
    allow_origins: tuple[str, ...] = ()


class Gate:
    """Decides every HTTP request; remembers who each accepted websocket is."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        # Weak keys: a connection that passed this gate but never reached the handler
        # (it dropped mid-handshake) leaves nothing behind.
        self._identities: weakref.WeakKeyDictionary[ServerConnection, Identity] = (
            weakref.WeakKeyDictionary()
        )

    def identity(self, connection: ServerConnection) -> Identity:
        """The identity checked at this connection's handshake (and forget it)."""
        return self._identities.pop(connection)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if not upgrade and urlsplit(request.path).path != "/ws":
            return static_response(request.path)
        # A plain GET of /ws gets the same verdict as a handshake, so that a browser,
        # which cannot read a failed handshake's status, can ask why it failed.
        if not self._origin_allowed(request.headers):
            log.warning("refused a websocket from origin %s", request.headers.get("Origin"))
            return _plain(http.HTTPStatus.FORBIDDEN, "origin not allowed\n")
        presented = extract_token(request.headers.get("Authorization"), request.path)
        identity = authenticate(
            presented, token=self.config.token, admin_token=self.config.admin_token
        )
        if identity is None:
            log.warning("refused a websocket with a missing or wrong token")
            return _plain(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
        if not upgrade:
            return _plain(http.HTTPStatus.UPGRADE_REQUIRED, "this is the websocket endpoint\n")
        self._identities[connection] = identity
        return None

    def _origin_allowed(self, headers: Headers) -> bool:
        origin = headers.get("Origin")
        if origin is None:
            return True  # not a browser: tokens protect these
        if origin in self.config.allow_origins:
            return True
        host = urlsplit(origin).hostname or ""
        own = urlsplit("//" + headers.get("Host", "")).hostname or ""
        return host in LOCAL_HOSTS or host == own


def _plain(status: http.HTTPStatus, text: str) -> Response:
    body = text.encode()
    headers = Headers(
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return Response(status.value, status.phrase, headers, body)


def static_response(path: str) -> Response:
    """A file of the browser UI, or 404. Only plain file names under ``teleop/web/``."""
    name = urlsplit(path).path.lstrip("/") or "index.html"
    parts = name.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return _plain(http.HTTPStatus.NOT_FOUND, "not found\n")
    resource = resources.files(WEB_PACKAGE).joinpath(*parts)
    if not resource.is_file():
        return _plain(http.HTTPStatus.NOT_FOUND, "not found\n")
    body = resource.read_bytes()
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
        kind += "; charset=utf-8"
    headers = Headers(
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
        ]
    )
    return Response(200, "OK", headers, body)
