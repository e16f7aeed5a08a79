"""Roku External Control Protocol (ECP): HTTP/1.1 on port 8060.

Keys are ``POST /keypress/<Key>``, ``/keydown/<Key>`` and ``/keyup/<Key>`` with an empty body;
literal text is ``Lit_<url-encoded char>``; the device answers 200 with no body.
"""

from __future__ import annotations

import http.client
import logging
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlsplit

from harness.control.backend import TrafficLog
from harness.control.keys import ROKU_ECP_KEYS, Key
from harness.errors import ControlError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8060


class RokuECPRemote:
    """Roku ECP over one persistent HTTP connection, reconnected when the device drops it."""

    channel = "roku-ecp"

    def __init__(self, uri: str, *, timeout_s: float = 3.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        parts = urlsplit(uri)
        if parts.scheme != "roku" or not parts.hostname:
            raise ControlError(f"{uri}: expected roku://HOST[:8060]")
        if parts.path not in ("", "/") or parts.query:
            raise ControlError(f"{uri}: unexpected path or options (expected roku://HOST[:8060])")
        self.uri = uri
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORT
        self.timeout_s = timeout_s
        self.device = device
        self._names: dict[Key, str] = dict(ROKU_ECP_KEYS)
        for name, value in (keymap or {}).items():
            if value:
                self._names[Key.parse(name)] = value
            else:
                self._names.pop(Key.parse(name), None)  # an empty name removes the key from this channel
        self.traffic = TrafficLog(self.channel, uri)
        self._conn: http.client.HTTPConnection | None = None
        self.device_info()  # connect once now: fail fast when the device is unreachable

    def _where(self, what: str) -> str:
        device = f"{self.device}: " if self.device else ""
        return f"{device}{self.channel} {self.uri}: {what}"

    def _request(self, method: str, path: str, what: str) -> bytes:
        for attempt in (1, 2):  # a Roku closes idle keep-alive connections: retry once on a fresh one
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                self.traffic.sent(f"{method} {path}")
                self._conn.request(method, path, body=b"" if method == "POST" else None)
                response = self._conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise ControlError(self._where(f"{what}: connection dropped: {e}")) from e
                continue
            except http.client.HTTPException as e:
                self._conn.close()
                self._conn = None
                raise ControlError(self._where(f"{what}: not an HTTP reply: {e}")) from e
            except TimeoutError as e:
                self._conn.close()
                self._conn = None
                raise ControlError(self._where(f"{what}: no answer within {self.timeout_s:g} s")) from e
            except OSError as e:
                self._conn.close()
                self._conn = None
                raise ControlError(self._where(f"{what}: unreachable: {e.strerror or e}")) from e
            self.traffic.received(f"{response.status} {response.reason} ({len(body)} bytes)")
            if response.status != 200:
                raise ControlError(self._where(f"{what}: HTTP {response.status} {response.reason}"))
            return body
        raise AssertionError("unreachable")

    def key_name(self, key: Key) -> str | None:
        return self._names.get(key)

    def press(self, name: str) -> None:
        self._request("POST", f"/keypress/{quote(name)}", f"key {name}")

    def keydown(self, name: str) -> None:
        self._request("POST", f"/keydown/{quote(name)}", f"keydown {name}")

    def keyup(self, name: str) -> None:
        self._request("POST", f"/keyup/{quote(name)}", f"keyup {name}")

    def literal(self, text: str) -> None:
        """Type ``text`` one character at a time (``Lit_`` keys)."""
        for char in text:
            self._request("POST", f"/keypress/Lit_{quote(char, safe='')}", f"literal {char!r}")

    def launch(self, app_id: str, content_id: str | None = None, media_type: str | None = None) -> None:
        """``POST /launch/<app_id>[?contentId=...&mediaType=...]`` (deep link into the app)."""
        query = "&".join(
            f"{name}={quote(value, safe='')}" for name, value in (("contentId", content_id), ("mediaType", media_type)) if value
        )
        self._request("POST", f"/launch/{quote(app_id, safe='')}" + (f"?{query}" if query else ""), f"launch {app_id}")

    def media_player(self) -> dict[str, str]:
        """``GET /query/media-player`` as a flat dict.

        ``<player state= error=>`` -> ``@state``, ``@error``; a child's text -> its tag
        (``position``: ``"1234 ms"``); a child's attributes -> ``tag@name`` (``plugin@id``,
        ``plugin@name``: the app that plays; ``format@video``...).
        """
        body = self._request("GET", "/query/media-player", "media-player")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise ControlError(self._where(f"media-player: not XML: {body[:80]!r}")) from e
        info = {f"@{name}": value for name, value in root.attrib.items()}
        for child in root:
            info[child.tag] = (child.text or "").strip()
            # <plugin id= name=/>, <format .../>: the data is in attributes (dropped before: plugin was "")
            info.update({f"{child.tag}@{name}": value for name, value in child.attrib.items()})
        return info

    def power_on(self) -> None:
        self.press("PowerOn")

    def power_off(self) -> None:
        self.press("PowerOff")

    def device_info(self) -> dict[str, str]:
        """``GET /query/device-info`` as a flat dict of element name -> text."""
        body = self._request("GET", "/query/device-info", "device-info")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise ControlError(self._where(f"device-info: not XML: {body[:80]!r}")) from e
        return {child.tag: (child.text or "") for child in root}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
