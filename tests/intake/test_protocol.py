"""The intake's protocol (DESIGN §10), over real HTTP to the real cheroot server: what is
accepted (202, queued), and each hostile request refused with its status and nothing queued;
no secret, signature, body or password in any log line."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from syncd.service.intake import WINDOW_SECONDS, sign
from tests.intake.harness import SECRET, Served, body_of, headers, served

PASSWORD = "Tr0ub4dor&3-horse-battery"


@pytest.fixture
def intake() -> Iterator[Served]:
    with served() as s:
        yield s


def _post(s: Served, body: bytes, path: str = "/v1/events", **kw: object) -> httpx.Response:
    return httpx.post(s.url + path, content=body, headers=kw.pop("hdrs", None) or headers(body), timeout=10)  # type: ignore[arg-type]


def _clean(s: Served, *extra: str) -> None:
    """Nothing that a request carried, nor the secret, is in any log line."""
    text = "\n".join(s.logs)
    for needle in (SECRET, PASSWORD, *extra):
        assert needle not in text, needle
    assert "Traceback" not in text


def test_a_signed_event_is_accepted_at_once_and_queued(intake: Served) -> None:
    body = body_of({"side": "wordpress", "event": "changed", "id": 5, "email": "Ann@Example.com"})
    r = _post(intake, body)
    assert r.status_code == 202, r.text
    entry = intake.queue.get(timeout=1)
    assert entry is not None and entry.wp_id == 5 and entry.whmcs_id is None and entry.email == "ann@example.com"
    assert intake.sample("syncd_events_accepted_total") == 1
    _clean(intake, headers(body)["X-Syncd-Signature"])


def test_email_may_be_empty_or_absent(intake: Served) -> None:
    for data in ({"side": "whmcs", "event": "changed", "id": 7}, {"side": "whmcs", "event": "changed", "id": 8,
                                                                   "email": ""}):
        assert _post(intake, body_of(data)).status_code == 202
    assert len(intake.queue) == 2


def test_events_for_one_user_coalesce(intake: Served) -> None:
    # Bodies differ (an identical body signed in the same second is a replay: refused, see below).
    for email in ("c@x.org", "C@x.org", "c@X.org", "C@X.org", "c@x.ORG"):
        same = body_of({"side": "whmcs", "event": "changed", "id": 3, "email": email})
        assert _post(intake, same).status_code == 202
    other_side = body_of({"side": "wordpress", "event": "changed", "id": 9, "email": "c@x.org"})
    assert _post(intake, other_side).status_code == 202
    assert len(intake.queue) == 1
    entry = intake.queue.get(timeout=1)
    assert entry is not None and (entry.whmcs_id, entry.wp_id, entry.events) == (3, 9, 6)
    assert intake.sample("syncd_events_coalesced_total") == 5


def test_a_deleted_event_is_accepted_but_queues_nothing(intake: Served) -> None:
    r = _post(intake, body_of({"side": "wordpress", "event": "deleted", "id": 5}))
    assert r.status_code == 202
    assert len(intake.queue) == 0
    assert any("left to the next scheduled listing" in line for line in intake.logs)


def test_a_password_event_from_loopback_is_a_changed_hint_and_its_password_goes_nowhere(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "password", "id": 4, "email": "p@x.org", "password": PASSWORD})
    assert _post(intake, body).status_code == 202
    entry = intake.queue.get(timeout=1)
    assert entry is not None and entry.whmcs_id == 4
    assert PASSWORD not in repr(entry) and PASSWORD not in repr(vars(entry))
    _clean(intake)


@pytest.mark.parametrize("missing", ["X-Syncd-Timestamp", "X-Syncd-Signature"])
def test_unsigned_is_401(intake: Served, missing: str) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    hdrs = headers(body)
    del hdrs[missing]
    assert _post(intake, body, hdrs=hdrs).status_code == 401
    assert len(intake.queue) == 0


def test_mis_signed_is_401(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    wrong = headers(body, secret="another-secret-of-the-same-size")
    assert _post(intake, body, hdrs=wrong).status_code == 401
    # The signature of another body, or a body changed after signing.
    hdrs = headers(body)
    tampered = body_of({"side": "whmcs", "event": "changed", "id": 2})
    assert _post(intake, tampered, hdrs=hdrs).status_code == 401
    hdrs["X-Syncd-Signature"] = "zz" * 32
    assert _post(intake, body, hdrs=hdrs).status_code == 401
    assert len(intake.queue) == 0
    assert intake.sample("syncd_events_refused_total", status="401") == 3
    _clean(intake, wrong["X-Syncd-Signature"])


# 30 s beyond (or inside) the window, not 1: the request is signed a moment before the intake reads
# its clock, and on a loaded machine that moment has been more than a second (+301 was let in).
@pytest.mark.parametrize("offset", [WINDOW_SECONDS + 30, -(WINDOW_SECONDS + 30)])
def test_a_stale_or_future_timestamp_is_401(intake: Served, offset: int) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    r = _post(intake, body, hdrs=headers(body, timestamp=int(time.time()) + offset))
    assert r.status_code == 401 and "300 s" in r.json()["error"]
    assert len(intake.queue) == 0


def test_a_timestamp_inside_the_window_is_accepted(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    assert _post(intake, body, hdrs=headers(body, timestamp=int(time.time()) - WINDOW_SECONDS + 30)).status_code == 202


def test_a_replayed_signature_is_401(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    hdrs = headers(body)
    assert _post(intake, body, hdrs=hdrs).status_code == 202
    assert intake.queue.get(timeout=1) is not None
    r = _post(intake, body, hdrs=hdrs)
    assert r.status_code == 401 and "seen before" in r.json()["error"]
    assert len(intake.queue) == 0


def test_an_oversized_body_is_413(intake: Served) -> None:
    body = b'{"side": "whmcs", "event": "changed", "id": 1, "email": "' + b"a" * (17 * 1024) + b'"}'
    assert _post(intake, body).status_code == 413
    assert len(intake.queue) == 0
    assert intake.sample("syncd_events_refused_total", status="413") == 1


def _raw(s: Served, request: bytes, *, read_timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", s.port), timeout=read_timeout) as sock:
        sock.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        return data


def test_a_content_length_over_the_limit_is_refused_before_the_body_is_sent(intake: Served) -> None:
    # Claims 10 GB and sends nothing: answered 413 at once, without waiting for the body.
    answer = _raw(intake, b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_a_content_length_shorter_than_the_body_signs_only_what_it_says(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    hdrs = headers(body)
    request = (f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body) - 5}\r\n"
               f"X-Syncd-Timestamp: {hdrs['X-Syncd-Timestamp']}\r\nX-Syncd-Signature: {hdrs['X-Syncd-Signature']}"
               "\r\nConnection: close\r\n\r\n").encode() + body
    answer = _raw(intake, request)
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert len(intake.queue) == 0


def test_a_chunked_body_over_the_limit_is_413(intake: Served) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 1024

    body_headers = {"X-Syncd-Timestamp": str(int(time.time())), "X-Syncd-Signature": "0" * 64}
    r = httpx.post(intake.url + "/v1/events", content=chunks(), headers=body_headers, timeout=10)
    assert r.status_code == 413
    assert len(intake.queue) == 0


def test_a_small_chunked_body_is_read_and_checked(intake: Served) -> None:
    body = body_of({"side": "wordpress", "event": "changed", "id": 2})

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    r = httpx.post(intake.url + "/v1/events", content=chunks(), headers=headers(body), timeout=10)
    assert r.status_code == 202, r.text
    assert len(intake.queue) == 1


BAD_SHAPES: list[tuple[str, bytes]] = [
    ("not JSON", b"{not json"),
    ("empty", b""),
    ("a list", b"[1, 2]"),
    ("a string", b'"changed"'),
    ("null", b"null"),
    ("not UTF-8", b'{"side": "whmcs", "event": "changed", "id": 1, "email": "\xff\xfe"}'),
    ("NaN id", b'{"side": "whmcs", "event": "changed", "id": NaN}'),
    ("bool id", body_of({"side": "whmcs", "event": "changed", "id": True})),
    ("string id", body_of({"side": "whmcs", "event": "changed", "id": "5"})),
    ("float id", body_of({"side": "whmcs", "event": "changed", "id": 5.0})),
    ("zero id", body_of({"side": "whmcs", "event": "changed", "id": 0})),
    ("negative id", body_of({"side": "whmcs", "event": "changed", "id": -3})),
    ("huge id", body_of({"side": "whmcs", "event": "changed", "id": 2**64})),
    ("very long number", b'{"side": "whmcs", "event": "changed", "id": ' + b"9" * 5000 + b"}"),
    ("no id", body_of({"side": "whmcs", "event": "changed"})),
    ("bad side", body_of({"side": "hubspot", "event": "changed", "id": 1})),
    ("side as a list", body_of({"side": ["whmcs"], "event": "changed", "id": 1})),
    ("bad event", body_of({"side": "whmcs", "event": "created", "id": 1})),
    ("extra key", body_of({"side": "whmcs", "event": "changed", "id": 1, "role": "administrator"})),
    ("email not a string", body_of({"side": "whmcs", "event": "changed", "id": 1, "email": 5})),
    ("duplicate key", b'{"side": "whmcs", "event": "changed", "id": 1, "id": 2}'),
    ("password outside a password event", body_of({"side": "whmcs", "event": "changed", "id": 1,
                                                   "password": PASSWORD})),
    ("password event without password", body_of({"side": "whmcs", "event": "password", "id": 1})),
    ("password not a string", body_of({"side": "whmcs", "event": "password", "id": 1, "password": 123456})),
    ("deep nesting", b'{"side": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
]


@pytest.mark.parametrize(("what", "body"), BAD_SHAPES, ids=[w for w, _ in BAD_SHAPES])
def test_anything_not_in_the_protocol_shape_is_400(intake: Served, what: str, body: bytes) -> None:
    r = _post(intake, body)
    assert r.status_code == 400, (what, r.status_code, r.text)
    assert len(intake.queue) == 0
    _clean(intake)


def test_other_paths_are_404_other_methods_405_and_verify_is_not_routed_without_a_verifier(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    assert _post(intake, body, path="/v1/other").status_code == 404
    assert _post(intake, body_of({"login": "a", "password": PASSWORD}), path="/v1/verify").status_code == 404
    assert httpx.get(intake.url + "/v1/events", timeout=10).status_code == 405
    assert httpx.put(intake.url + "/v1/events", content=body, timeout=10).status_code == 405
    assert len(intake.queue) == 0
    _clean(intake)


def test_the_probe_is_signed_and_does_nothing(intake: Served) -> None:
    body = b"{}"
    assert _post(intake, body, path="/v1/probe").status_code == 204
    assert _post(intake, body, path="/v1/probe", hdrs=headers(body, secret="not-the-secret-at-all")).status_code == 401
    assert len(intake.queue) == 0


def test_a_password_event_off_loopback_without_tls_is_403() -> None:
    # A request from another host to a plain-http intake (behind no TLS proxy): the WSGI app as
    # cheroot calls it, with the remote address of that host.
    from syncd.service.events import EventQueue
    from syncd.service.intake import IntakeApp
    from syncd.service.metrics import SyncMetrics

    queue, metrics = EventQueue(), SyncMetrics()
    app = IntakeApp(SECRET.encode(), queue, metrics)
    body = body_of({"side": "wordpress", "event": "password", "id": 4, "password": PASSWORD})
    stamp = str(int(time.time()))
    import io

    def call(remote: str, scheme: str, signed_body: bytes) -> str:
        statuses: list[str] = []
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/events", "CONTENT_LENGTH": str(len(signed_body)),
                   "wsgi.input": io.BytesIO(signed_body), "wsgi.url_scheme": scheme, "REMOTE_ADDR": remote,
                   "HTTP_X_SYNCD_TIMESTAMP": stamp,
                   "HTTP_X_SYNCD_SIGNATURE": sign(SECRET.encode(), stamp, signed_body)}
        app(environ, lambda status, _headers: statuses.append(status))
        return statuses[0]

    assert call("203.0.113.9", "http", body).startswith("403")
    assert len(queue) == 0
    other = body_of({"side": "wordpress", "event": "password", "id": 4, "password": PASSWORD + "x"})
    assert call("203.0.113.9", "https", other).startswith("202")
    changed = body_of({"side": "wordpress", "event": "changed", "id": 4})
    assert call("203.0.113.9", "http", changed).startswith("202")  # no password: plain http is fine


def test_the_intake_serves_tls_with_its_certificate(tmp_path: object) -> None:
    from pathlib import Path

    from tests.intake.tls import self_signed

    cert, key = self_signed(Path(str(tmp_path)))
    with served(tls=(str(cert), str(key))) as s:
        assert s.url.startswith("https://")
        body = body_of({"side": "wordpress", "event": "password", "id": 4, "password": PASSWORD})
        r = httpx.post(s.url + "/v1/events", content=body, headers=headers(body),
                       verify=ssl.create_default_context(cafile=str(cert)), timeout=10)
        assert r.status_code == 202
        # Plain http to the TLS port gets no event in: refused or cut off.
        try:
            plain = httpx.post(s.url.replace("https://", "http://") + "/v1/events", content=body,
                               headers=headers(body), timeout=5)
        except httpx.HTTPError:
            pass
        else:
            assert plain.status_code >= 400
        assert len(s.queue) == 1
        assert "Traceback" not in "\n".join(s.logs)


def test_an_unknown_key_is_refused_without_naming_it_in_the_log(intake: Served) -> None:
    body = body_of({"side": "whmcs", "event": "changed", "id": 1, "leaky_key_name_xyz": "value-xyz"})
    r = _post(intake, body)
    assert r.status_code == 400 and "unknown key" in r.json()["error"]
    _clean(intake, "leaky_key_name_xyz", "value-xyz")


def test_loopback_includes_ipv4_mapped_addresses() -> None:
    from syncd.service.intake import _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("::ffff:127.0.0.1")
    assert not _is_loopback("203.0.113.9") and not _is_loopback("::ffff:203.0.113.9") and not _is_loopback("")


@pytest.mark.parametrize("garbage", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
                                     b"GET\r\n\r\n", b"POST /v1/events HTTP/9.9\r\n\r\n",
                                     b"POST /v1/events HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                     b"POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_garbage_on_the_wire_gets_no_traceback_and_the_server_goes_on(intake: Served, garbage: bytes) -> None:
    answer = _raw(intake, garbage, read_timeout=5)
    if answer:  # refused by cheroot itself (400, 505...) or cut off; never accepted, never a crash (500)
        code = int(answer.split()[1])
        assert 400 <= code < 600 and code != 500, answer
    body = body_of({"side": "whmcs", "event": "changed", "id": 1})
    assert _post(intake, body).status_code == 202
    assert "Traceback" not in "\n".join(intake.logs)
