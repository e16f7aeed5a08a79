"""Roku ECP app launch (deep links) and the media-player query against an HTTP/1.1 fake on loopback.

The fake answers like a Roku: ``POST /launch/<appId>`` 200 for an installed app (404
otherwise), ``GET /query/apps`` and ``GET /query/media-player`` in the device's XML shapes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.control.roku_ecp import RokuECPRemote
from harness.errors import ControlError

DEVICE_INFO = b"""<?xml version="1.0" encoding="UTF-8" ?>
<device-info><model-name>Roku Ultra</model-name><software-version>14.1.4</software-version></device-info>"""

APPS = {"12": ("Netflix", "5.2.92010"), "837": ("YouTube", "2.21.91005"), "dev": ("avqa test channel", "1.0.1")}

PLAYING = b"""<?xml version="1.0" encoding="UTF-8" ?>
<player error="false" state="play">
  <plugin bandwidth="10000000 bps" id="12" name="Netflix"/>
  <format audio="eac3" captions="none" container="mp4" drm="widevine" video="hevc_b"/>
  <buffering current="1000" max="1000" target="0"/>
  <new_stream speed="128000 bps"/>
  <position>1234 ms</position>
  <duration>6496762 ms</duration>
  <is_live>false</is_live>
  <runtime>15000 ms</runtime>
</player>
"""

IDLE = b"""<?xml version="1.0" encoding="UTF-8" ?>
<player error="false" state="close">
<format audio="eac3" captions="none" drm="none" video="hevc_b"/>
<is_live>false</is_live>
</player>
"""


@dataclass(frozen=True)
class Seen:
    """One request as the device received it: method, raw request target, body."""

    method: str
    target: str
    body: bytes


class FakeRokuApps(ThreadingHTTPServer):
    """ECP launch and queries; ``player_xml`` and ``player_status`` set what /query/media-player answers."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.player_xml = PLAYING
        self.player_status = 200
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def uri(self) -> str:
        return f"roku://127.0.0.1:{self.server_address[1]}"

    def apps_xml(self) -> bytes:
        rows = "".join(f'\t<app id="{app_id}" type="appl" version="{version}">{name}</app>\n' for app_id, (name, version) in APPS.items())
        return f'<?xml version="1.0" encoding="UTF-8" ?>\n<apps>\n{rows}</apps>\n'.encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeRokuApps

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.seen.append(Seen("GET", self.path, b""))
        if self.path == "/query/device-info":
            self._answer(200, DEVICE_INFO)
        elif self.path == "/query/apps":
            self._answer(200, self.server.apps_xml())
        elif self.path == "/query/media-player":
            self._answer(self.server.player_status, self.server.player_xml if self.server.player_status == 200 else b"")
        else:
            self._answer(404)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append(Seen("POST", self.path, body))
        parts = urlsplit(self.path)
        action, _, app_id = parts.path.strip("/").partition("/")
        self._answer(200 if action == "launch" and app_id in APPS else 404)


@pytest.fixture
def roku() -> Iterator[FakeRokuApps]:
    server = FakeRokuApps()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def ecp(roku: FakeRokuApps) -> Iterator[RokuECPRemote]:
    backend = RokuECPRemote(roku.uri, device="tv01")
    yield backend
    backend.close()


def test_launch_sends_the_exact_deep_link(roku: FakeRokuApps, ecp: RokuECPRemote) -> None:
    ecp.launch("12")
    ecp.launch("12", content_id="81239477", media_type="movie")
    ecp.launch("dev", content_id="s1:e2 a&b=c/d?", media_type="episode")
    ecp.launch("837", media_type="live")
    assert [(s.method, s.target, s.body) for s in roku.seen[1:]] == [
        ("POST", "/launch/12", b""),
        ("POST", "/launch/12?contentId=81239477&mediaType=movie", b""),
        ("POST", "/launch/dev?contentId=s1%3Ae2%20a%26b%3Dc%2Fd%3F&mediaType=episode", b""),
        ("POST", "/launch/837?mediaType=live", b""),
    ]
    # what the device decodes is what was asked for: reserved characters survive the round trip
    assert parse_qs(urlsplit(roku.seen[3].target).query) == {"contentId": ["s1:e2 a&b=c/d?"], "mediaType": ["episode"]}
    assert [line.text for line in ecp.traffic.lines() if line.direction == ">"][1:3] == [
        "POST /launch/12",
        "POST /launch/12?contentId=81239477&mediaType=movie",
    ]


def test_launch_of_an_app_that_is_not_installed_names_app_and_uri(roku: FakeRokuApps, ecp: RokuECPRemote) -> None:
    with pytest.raises(ControlError) as info:
        ecp.launch("999999", content_id="abc")
    assert str(info.value) == f"tv01: roku-ecp {roku.uri}: launch 999999: HTTP 404 Not Found"
    assert roku.seen[-1] == Seen("POST", "/launch/999999?contentId=abc", b"")


def test_media_player_while_playing(roku: FakeRokuApps, ecp: RokuECPRemote) -> None:
    info = ecp.media_player()
    assert roku.seen[-1] == Seen("GET", "/query/media-player", b"")
    assert info["@state"] == "play" and info["@error"] == "false"
    assert (info["plugin@id"], info["plugin@name"]) == ("12", "Netflix")  # which app plays: attributes, not text
    assert info["format@video"] == "hevc_b" and info["format@drm"] == "widevine"
    assert (info["position"], info["duration"], info["is_live"]) == ("1234 ms", "6496762 ms", "false")
    assert info["buffering@current"] == "1000"


def test_media_player_when_nothing_plays(roku: FakeRokuApps, ecp: RokuECPRemote) -> None:
    roku.player_xml = IDLE
    info = ecp.media_player()
    assert info["@state"] == "close" and "plugin@id" not in info and "position" not in info
    assert info["is_live"] == "false"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"<html>Roku</html", "media-player: not XML: b'<html>Roku</html'"),
        (403, b"", "media-player: HTTP 403 Forbidden"),  # the device refuses ECP queries
    ],
)
def test_media_player_errors_name_the_uri(roku: FakeRokuApps, ecp: RokuECPRemote, status: int, body: bytes, expected: str) -> None:
    roku.player_status, roku.player_xml = status, body
    with pytest.raises(ControlError) as info:
        ecp.media_player()
    assert str(info.value) == f"tv01: roku-ecp {roku.uri}: {expected}"
