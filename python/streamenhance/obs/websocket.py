"""A small obs-websocket v5 client on obs-websocket-py, with clear errors and no password leaks.

obs-websocket-py keeps only a request's success flag; this client also keeps obs-websocket's
``requestStatus`` ``code`` and ``comment`` so failures say why. The password is held only to build
the authentication string; it is never part of a message, a repr or a log record (the library's
debug log, which prints the Identify payload, is kept at WARNING).
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamenhance.errors import ConfigError, StreamEnhanceError

VENDOR_NAME = "streamenhance"
FILTER_KIND = "streamenhance_filter"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 4455
ENV_HOST, ENV_PORT, ENV_PASSWORD = "OBS_WEBSOCKET_HOST", "OBS_WEBSOCKET_PORT", "OBS_WEBSOCKET_PASSWORD"

logging.getLogger("obswebsocket").setLevel(logging.WARNING)


class ObsConnectionError(StreamEnhanceError, ConnectionError):
    """OBS's websocket server cannot be reached or refused the connection."""


class ObsAuthError(ObsConnectionError):
    """The websocket server rejected the password (or needs one and none was given)."""


class ObsRequestError(StreamEnhanceError, RuntimeError):
    """A request failed; carries obs-websocket's status code and comment."""

    def __init__(self, request: str, code: int | None, comment: str) -> None:
        self.request, self.code, self.comment = request, code, comment
        detail = comment or "no comment from OBS"
        status = f" (obs-websocket status {code})" if code is not None else ""
        super().__init__(f"{request} failed{status}: {detail}")


@dataclass(frozen=True)
class ConnectionOptions:
    """Where OBS's websocket server is. ``password`` never appears in ``repr``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    password: str = field(default="", repr=False)
    timeout: float = 10.0

    @classmethod
    def from_env(
        cls, host: str | None = None, port: int | str | None = None, password: str | None = None, timeout: float = 10.0
    ) -> ConnectionOptions:
        """Options from arguments, falling back to ``OBS_WEBSOCKET_HOST/PORT/PASSWORD``.

        Raises:
            ConfigError: the port is not an integer in 1..65535.
        """
        port_value = port if port is not None else os.environ.get(ENV_PORT, DEFAULT_PORT)
        try:
            port_number = int(port_value)
        except (TypeError, ValueError):
            raise ConfigError(f"port: expected an integer in 1..65535, got {port_value!r}") from None
        if not 1 <= port_number <= 65535:
            raise ConfigError(f"port: expected an integer in 1..65535, got {port_number}")
        return cls(
            host=host or os.environ.get(ENV_HOST) or DEFAULT_HOST,
            port=port_number,
            password=password if password is not None else os.environ.get(ENV_PASSWORD, ""),
            timeout=timeout,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class _Answers(dict):  # type: ignore[type-arg]
    """obs-websocket-py's answer table; remembers each popped answer's requestStatus."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, dict[str, Any]] = {}

    def pop(self, key: Any, *default: Any) -> Any:
        answer = super().pop(key, *default)
        if isinstance(answer, dict):
            self.statuses[key] = answer.get("requestStatus", {})
        return answer


class ObsClient:
    """A connected obs-websocket v5 session; use as a context manager.

    Raises (on construction):
        ObsAuthError: wrong or missing password.
        ObsConnectionError: nothing listens at the address, or the handshake failed.
    """

    def __init__(self, options: ConnectionOptions) -> None:
        import websocket
        from obswebsocket import exceptions, obsws

        self.options = options
        self._ws = obsws(options.host, options.port, options.password, legacy=False, timeout=options.timeout)
        self._answers = _Answers()
        self._ws.answers = self._answers
        try:
            self._ws.connect()
        except (exceptions.ConnectionFailure, websocket.WebSocketException, OSError) as exc:
            self._close_quietly()
            raise self._connection_error(exc) from None

    def _connection_error(self, exc: BaseException) -> ObsConnectionError:
        text = str(exc)
        # The password is never part of these messages: obs-websocket-py's texts do not contain it,
        # and ours name only the address.
        handshake_done = self._ws.server_version is not None
        if handshake_done or "Identify" in text or "password" in text.lower():
            if self.options.password:
                return ObsAuthError(
                    f"authentication failed: the OBS websocket at {self.options.address} rejected the password "
                    f"(check --password or ${ENV_PASSWORD})"
                )
            return ObsAuthError(
                f"authentication failed: the OBS websocket at {self.options.address} needs a password "
                f"(pass --password or set ${ENV_PASSWORD})"
            )
        return ObsConnectionError(
            f"cannot connect to the OBS websocket at {self.options.address}: {text or type(exc).__name__} "
            "(is OBS running with Tools > WebSocket Server Settings > Enable enabled?)"
        )

    def __enter__(self) -> ObsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._close_quietly()

    def _close_quietly(self) -> None:
        socket = self._ws.ws
        if socket is None:
            return
        try:
            self._ws.disconnect()
        except Exception:  # closing a broken connection: nothing left to report
            pass
        # obs-websocket-py skips closing a socket the server already closed (failed handshake).
        try:
            socket.shutdown()
        except Exception:
            pass

    # ------------------------------------------------------------------ requests

    def call(self, request_type: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return its ``responseData``.

        Raises:
            ObsRequestError: OBS answered with a failure (code and comment kept).
            ObsConnectionError: no answer within the timeout, or the connection dropped.
        """
        from obswebsocket import exceptions, requests

        request = getattr(requests, request_type)(**fields)
        message_id = str(self._ws.id)  # obs-websocket-py numbers requests with this counter
        try:
            self._ws.call(request)
        except exceptions.MessageTimeout:
            raise ObsConnectionError(
                f"{request_type}: no answer from OBS at {self.options.address} within {self.options.timeout:g} s"
            ) from None
        except OSError as exc:
            raise ObsConnectionError(f"{request_type}: connection to OBS lost ({exc})") from None
        status = self._answers.statuses.pop(message_id, {})
        if not request.status:
            raise ObsRequestError(request_type, status.get("code"), status.get("comment", ""))
        return dict(request.datain)

    def vendor(self, request_type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a request of the ``streamenhance`` vendor; returns its response data.

        obs-websocket 5.1 rejects an empty ``requestData`` object, so it is left out when empty.
        """
        fields: dict[str, Any] = {"vendorName": VENDOR_NAME, "requestType": request_type}
        if data:
            fields["requestData"] = data
        try:
            answer = self.call("CallVendorRequest", **fields)
        except ObsRequestError as exc:
            if "no vendor" in exc.comment.lower():  # 600 ResourceNotFound "No vendor was found by that name."
                raise ObsRequestError(
                    f"CallVendorRequest {VENDOR_NAME}.{request_type}", exc.code,
                    f"{exc.comment} (is the streamenhance script loaded in OBS?)",
                ) from None
            raise
        return dict(answer.get("responseData", {}))

    def screenshot(self, source: str, path: Path, width: int | None = None, height: int | None = None) -> Path:
        """Save a PNG screenshot of ``source`` (a scene shows filtered sizes correctly on OBS 29)."""
        fields: dict[str, Any] = {"sourceName": source, "imageFormat": "png"}
        if width:
            fields["imageWidth"] = width
        if height:
            fields["imageHeight"] = height
        data = self.call("GetSourceScreenshot", **fields)["imageData"]
        payload = data.split(",", 1)[1] if data.startswith("data:") else data
        path = Path(path)
        path.write_bytes(base64.b64decode(payload))
        return path
