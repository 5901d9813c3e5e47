"""The WHMCS hook file (issue 13, item 4; DESIGN §10), run by the PHP CLI inside a stand-in for WHMCS
(``whmcs_harness.php``: ``add_hook``, ``logActivity``, the hooks run with their documented variables),
sending to a real HTTP server on loopback that records what it receives: each hook sends one event,
signed as the intake checks it; an unconfigured file sends and logs nothing; a down, slow or refusing
intake never makes WHMCS's PHP fail, print or wait more than 3 s, and the secret never reaches the log.

The hook variables below are those of WHMCS's hook reference, in the WHMCS/developer-docs repository
(commit 2e75f454aa248b791948e14ad7b33fa9f0ded761): ``hooks-reference/client.md`` (ClientAdd,
ClientEdit, ClientClose, PreDeleteClient, ClientChangePassword: ``userid``, ``password`` "The new
password") and ``hooks-reference/user.md`` (UserAdd, UserEdit, UserChangePassword: ``userid`` "The ID
of the User being updated", ``password``), and ``api-reference/getusers.md`` (limitstart, limitnum); the
stand-in's calls follow ``hooks/getting-started.md``, ``hooks/priority.md``, ``hooks/sample-hook.md``
and ``advanced/logging.md`` of the same repository."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from syncd import companions

FILE = Path(companions.__file__).parent / "whmcs" / "syncd_hooks.php"
HARNESS = Path(__file__).parent / "whmcs_harness.php"
SECRET = "s3cret-for-the-intake-7f1c"
PASSWORD = "Client-Pa55word-9d2e"  # ClientAdd's and UserAdd's `password`: only in a password event, never logged
HOOKS = ("ClientAdd", "ClientEdit", "ClientClose", "PreDeleteClient", "UserAdd", "UserEdit", "ClientChangePassword",
         "UserChangePassword")

# --- the variables WHMCS passes, as hooks-reference/client.md and user.md list them ------------------

CLIENT_FIELDS: dict[str, Any] = {
    "firstname": "Ada", "lastname": "Lovelace", "companyname": "Analytical Ltd", "email": "Ada@Example.test",
    "address1": "1 Engine Street", "address2": "", "city": "London", "state": "Greater London",
    "postcode": "N1 1AA", "country": "GB", "phonenumber": "+44.2071234567",
}


def client_add(client_id: Any = 7, password: str | None = PASSWORD) -> dict[str, Any]:
    """hooks-reference/client.md, ClientAdd: client_id, user_id, userid (deprecated), the profile,
    tax_id, password, customFields, the flags, notes, groupid (``password=None``: left out)."""
    return {"client_id": client_id, "user_id": 3, "userid": client_id, **CLIENT_FIELDS, "tax_id": "GB123",
            **({"password": password} if password is not None else {}), "customFields": {"1": "a value"},
            "taxexempt": False, "latefeeoveride": False, "overideduenotices": False, "separateinvoices": False,
            "disableautocc": False, "emailoptout": False, "marketing_emails_opt_in": True, "overrideautoclose": False,
            "notes": "", "groupid": 0}


def client_edit(userid: Any = 7, email: str = "Ada@Example.test") -> dict[str, Any]:
    """hooks-reference/client.md, ClientEdit: userid, uuid, the profile, currency, ..., olddata,
    authmodule/authdata, email_verified, email_preferences[...] (an array)."""
    return {"userid": userid, "uuid": "0b7c4e34-0d6f-4a8e-9d3c-2f1c9a5f4e21", **CLIENT_FIELDS, "email": email,
            "currency": 1, "notes": "", "status": "Active", "taxexempt": False, "latefeeoveride": False,
            "overideduenotices": False, "separateinvoices": False, "disableautocc": False, "emailoptout": False,
            "marketing_emails_opt_in": False, "overrideautoclose": False, "language": "english",
            "billingcid": 0, "groupid": 0, "allow_sso": True,
            "olddata": {**CLIENT_FIELDS, "email": "ada.old@example.test"}, "authmodule": "", "authdata": "",
            "email_verified": False, "isOptedInToMarketingEmails": False,
            "email_preferences": {"affiliate": True, "domain": True, "general": True, "invoices": True,
                                  "product": True, "support": True}}


def client_close(userid: Any = 7) -> dict[str, Any]:
    """hooks-reference/client.md, ClientClose: userid only."""
    return {"userid": userid}


def pre_delete_client(userid: Any = 7) -> dict[str, Any]:
    """hooks-reference/client.md, PreDeleteClient: userid only."""
    return {"userid": userid}


def user_add(user_id: Any = 3, email: str = "owner@example.test", password: str | None = PASSWORD) -> dict[str, Any]:
    """hooks-reference/user.md, UserAdd: user_id, firstname, lastname, email, password, language."""
    return {"user_id": user_id, "firstname": "Ada", "lastname": "Lovelace", "email": email,
            **({"password": password} if password is not None else {}), "language": "english"}


def client_change_password(userid: Any = 7, password: str = PASSWORD) -> dict[str, Any]:
    """hooks-reference/client.md, ClientChangePassword: userid ("The ID of the Client being updated"),
    password ("The new password")."""
    return {"userid": userid, "password": password}


def user_change_password(userid: Any = 3, password: str = PASSWORD) -> dict[str, Any]:
    """hooks-reference/user.md, UserChangePassword: userid ("The ID of the User being updated"),
    password ("The new password")."""
    return {"userid": userid, "password": password}


def user_edit(user_id: Any = 3, email: str = "owner@example.test") -> dict[str, Any]:
    """hooks-reference/user.md, UserEdit: user_id, firstname, lastname, email, olddata."""
    return {"user_id": user_id, "firstname": "Ada", "lastname": "Lovelace", "email": email,
            "olddata": {"firstname": "Ada", "lastname": "Byron", "email": "owner.old@example.test"}}


# --- a capturing intake on loopback ---------------------------------------------------------------------

@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Intake:
    """Records every request; answers ``status`` after ``delay`` seconds (or as soon as it is closed)."""

    status: int = 202
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        intake = self
        self.released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the hook file reuses its connection

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                intake.received.append(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                                body, time.time()))
                if intake.delay and intake.released.wait(intake.delay):
                    return  # closed while it hung: no answer at all
                self.send_response(intake.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


MakeIntake = Callable[..., Intake]


@pytest.fixture
def intake() -> Iterator[MakeIntake]:
    made: list[Intake] = []

    def make(**kw: Any) -> Intake:
        made.append(Intake(**kw))
        return made[-1]

    yield make
    for one in made:
        one.close()


def closed_port_url() -> str:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- running the hook file in the stand-in --------------------------------------------------------------

@pytest.fixture(scope="module")
def php() -> str:
    found = shutil.which("php")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("php is not installed: ./scripts/test installs it (scripts/wp-site deps)")
        pytest.skip("php is not installed (./scripts/test installs it with the real WordPress's packages)")
    curl = subprocess.run([found, "-r", "exit(extension_loaded('curl') ? 0 : 1);"], capture_output=True, timeout=60)
    if curl.returncode != 0:
        pytest.fail("PHP's curl extension is missing (Debian: php-curl): run ./scripts/wp-site deps as root, "
                    "or ./scripts/test, which installs it")
    return found


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    activity: list[str]
    registry: dict[str, list[int]]
    seconds: float
    api_calls: list[list[Any]]


def run_hooks(php: str, tmp: Path, calls: list[tuple[str, Any]], *, define: dict[str, str] | None = None,
              activity: bool | str = True, include: list[Path] | None = None,
              users: list[dict[str, Any]] | str | None = None, server: dict[str, str] | None = None) -> Run:
    """Runs ``calls`` in the stand-in; ``activity``: True (logActivity records), False (no such
    function) or "throw" (it throws); ``users``: what localAPI's GetUsers finds ("throw", "error",
    or None for no localAPI at all)."""
    log, registry, scenario = tmp / "activity.jsonl", tmp / "registry.json", tmp / "scenario.json"
    api = tmp / "calls.jsonl"
    for stale in (log, registry, api):
        stale.unlink(missing_ok=True)
    logged = activity if isinstance(activity, str) else str(log) if activity else None
    scenario.write_text(json.dumps({
        "define": define or {}, "server": server or {}, "activity": logged, "registry": str(registry),
        "users": users, "calls": str(api),
        "include": [str(p) for p in include or [FILE]], "run": [list(c) for c in calls]}), encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run([php, "-d", "error_reporting=-1", "-d", "display_errors=1", "-d", "display_startup_errors=1",
                           "-d", "log_errors=0", str(HARNESS), str(scenario)],
                          capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - started
    lines = [json.loads(line)[0] for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return Run(proc, lines, json.loads(registry.read_text(encoding="utf-8")) if registry.exists() else {}, seconds,
               [json.loads(line) for line in api.read_text(encoding="utf-8").splitlines()] if api.exists() else [])


def configured(url: str, secret: str = SECRET) -> dict[str, str]:
    """The two constants, as an admin sets them in configuration.php."""
    return {"SYNCD_INTAKE_URL": url, "SYNCD_INTAKE_SECRET": secret}


def quiet(run: Run) -> None:
    """What WHMCS must see of the hook file, whatever happened: nothing printed, no notice, exit 0."""
    assert run.proc.returncode == 0, run.proc.stdout + run.proc.stderr
    assert run.proc.stdout == "" and run.proc.stderr == "", run.proc.stdout + run.proc.stderr


def payloads(intake: Intake) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in intake.received]


def assert_signed(request: Received, secret: str = SECRET) -> None:
    """The intake's check (DESIGN §10): hex HMAC-SHA256 over "timestamp.body", the exact bytes received."""
    assert request.method == "POST" and request.path == "/v1/events"
    assert request.headers["content-type"] == "application/json"
    timestamp = request.headers["x-syncd-timestamp"]
    assert timestamp.isdigit() and abs(int(timestamp) - request.at) <= 5
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-syncd-signature"], expected)


def assert_clean(run: Run, intake: Intake | None = None, *, password: str = PASSWORD) -> None:
    """Neither the secret nor a client's password reaches the log, a header or a request body; a
    password only as the "password" of a password event (DESIGN §11)."""
    received = intake.received if intake else []
    texts = run.activity + [v for r in received for k, v in r.headers.items() if k != "x-syncd-signature"]
    for r in received:
        body = json.loads(r.body)
        body.pop("password", None) if body.get("event") == "password" else None
        texts.append(json.dumps(body))
    for text in texts:
        assert SECRET not in text and password not in text, text


# --- the tests -----------------------------------------------------------------------------------------

def test_the_repository_path_is_the_shipped_file() -> None:
    top = Path(__file__).parents[2] / "companions" / "whmcs" / "syncd_hooks.php"
    assert top.read_bytes() == FILE.read_bytes() == companions.source("whmcs")


def test_php_lint(php: str) -> None:
    out = subprocess.run([php, "-l", str(FILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "No syntax errors" in out.stdout, out.stdout + out.stderr


def test_php_7_2_can_parse_it(php: str) -> None:
    """Under PHP 7 the file returns at once, but only if PHP 7 can compile it: a parse error in
    includes/hooks/ would stop every WHMCS page (older WHMCS 8 versions run on PHP 7.2 to 7.4)."""
    out = subprocess.run([php, str(Path(__file__).parent / "php72_syntax.php"), str(FILE)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout == "", f"syntax PHP 7.2 cannot parse:\n{out.stdout}"


def test_it_registers_the_six_hook_points_once_even_when_loaded_twice(php: str, tmp_path: Path,
                                                                      intake: MakeIntake) -> None:
    server = intake()
    copy = tmp_path / "syncd_hooks_copy.php"
    copy.write_bytes(FILE.read_bytes())
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit())], define=configured(server.url),
                    include=[FILE, copy])
    quiet(run)
    assert run.registry == {hook: [1] for hook in HOOKS}
    assert len(server.received) == 1


@pytest.mark.parametrize(("hook", "variables", "expected"), [
    ("ClientAdd", client_add(), {"event": "password", "id": 7, "email": "Ada@Example.test", "password": PASSWORD}),
    ("ClientEdit", client_edit(), {"event": "changed", "id": 7, "email": "Ada@Example.test"}),
    ("ClientClose", client_close(), {"event": "changed", "id": 7, "email": ""}),
    ("PreDeleteClient", pre_delete_client(), {"event": "deleted", "id": 7, "email": ""}),
    # where WHMCS cannot say which clients a user owns (no localAPI here): the user's id and email
    ("UserAdd", user_add(), {"event": "changed", "id": 3, "email": "owner@example.test"}),
    ("UserEdit", user_edit(), {"event": "changed", "id": 3, "email": "owner@example.test"}),
])
def test_each_hook_sends_one_signed_event(php: str, tmp_path: Path, intake: MakeIntake, hook: str,
                                          variables: dict[str, Any], expected: dict[str, Any]) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [(hook, variables)], define=configured(server.url + "/"))  # "/" is stripped
    quiet(run)
    # UserAdd's password cannot go with the user's id (it could name another client): said, not sent
    assert run.activity == ([] if hook != "UserAdd" else [
        "syncd: the new password of WHMCS user #3 was not sent: WHMCS did not say which clients the user owns "
        "(GetUsers, WHMCS 8.1+)"])
    (request,) = server.received
    assert_signed(request)
    body = json.loads(request.body)
    assert body == {"side": "whmcs", **expected}
    assert list(body) == ["side", "event", "id", "email", *(["password"] if "password" in expected else [])]
    assert type(body["id"]) is int
    assert_clean(run, server)


# GetUsers entries as api-reference/getusers.md shows them: each user's clients, with isOwner.
USERS: list[dict[str, Any]] = [
    {"id": 30, "firstname": "Other", "lastname": "Person", "email": "owner@example.test.au",  # found by the prefix
     "datecreated": "2021-01-01 10:00:00", "validationdata": "", "clients": [{"id": 99, "isOwner": True}]},
    {"id": 3, "firstname": "Ada", "lastname": "Lovelace", "email": "owner@example.test",
     "datecreated": "2020-12-15 15:29:49", "validationdata": "",
     "clients": [{"id": 7, "isOwner": True}, {"id": 12, "isOwner": False}, {"id": 8, "isOwner": True}]},
    {"id": 4, "firstname": "Help", "lastname": "Er", "email": "helper@example.test",
     "datecreated": "2021-01-01 10:00:00", "validationdata": "", "clients": [{"id": 12, "isOwner": False}]},
]


def test_a_user_event_becomes_one_per_client_the_user_owns(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [("UserEdit", user_edit(3, "owner@example.test"))], define=configured(server.url),
                    users=USERS)
    quiet(run)
    assert run.api_calls == [["GetUsers", {"search": "owner@example.test"}]]
    assert payloads(server) == [{"side": "whmcs", "event": "changed", "id": 7, "email": ""},
                                {"side": "whmcs", "event": "changed", "id": 8, "email": ""}]
    for request in server.received:
        assert_signed(request)
    assert run.activity == []


@pytest.mark.parametrize("who", [user_add(4, "helper@example.test"), user_edit(5, "gone@example.test")],
                         ids=["owns-no-client", "no-such-user"])
def test_a_user_who_owns_no_client_sends_nothing(php: str, tmp_path: Path, intake: MakeIntake,
                                                 who: dict[str, Any]) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [("UserEdit", who)], define=configured(server.url), users=USERS)
    quiet(run)
    assert len(run.api_calls) == 1 and server.received == [] and run.activity == []


def test_a_clients_own_event_wins_over_its_owners(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    # before the user's event and after it: either way the client's own event is what is sent
    calls = [("PreDeleteClient", pre_delete_client(7)), ("UserEdit", user_edit(3, "owner@example.test")),
             ("ClientEdit", client_edit(8, "eight@example.test"))]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url), users=USERS)
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "deleted", "id": 7, "email": ""},
                                {"side": "whmcs", "event": "changed", "id": 8, "email": "eight@example.test"}]


def test_a_client_with_its_owners_email_does_not_hide_the_owners_other_clients(php: str, tmp_path: Path,
                                                                              intake: MakeIntake) -> None:
    server = intake()
    calls = [("ClientEdit", client_edit(7, "owner@example.test")), ("UserEdit", user_edit(3, "owner@example.test"))]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url), users=USERS)
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "changed", "id": 7, "email": "owner@example.test"},
                                {"side": "whmcs", "event": "changed", "id": 8, "email": ""}]


@pytest.mark.parametrize("users", ["throw", "error"])
def test_when_whmcs_cannot_say_the_user_event_goes_as_it_is(php: str, tmp_path: Path, intake: MakeIntake,
                                                            users: str) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [("UserAdd", user_add(3, "owner@example.test"))], define=configured(server.url),
                    users=users)
    quiet(run)
    assert len(run.api_calls) == 1
    assert payloads(server) == [{"side": "whmcs", "event": "changed", "id": 3, "email": "owner@example.test"}]
    assert run.activity == ["syncd: the new password of WHMCS user #3 was not sent: WHMCS did not say which clients "
                            "the user owns (GetUsers, WHMCS 8.1+)"]


def test_ids_given_as_strings_are_sent_as_numbers_and_bad_ones_send_nothing(php: str, tmp_path: Path,
                                                                           intake: MakeIntake) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [("ClientClose", client_close("12"))], define=configured(server.url))
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "changed", "id": 12, "email": ""}]
    bad = [("ClientEdit", client_edit(0)), ("ClientEdit", client_edit("abc")), ("ClientClose", {}),
           ("PreDeleteClient", client_close(True)), ("ClientAdd", {"email": "x@example.test"}),
           ("UserEdit", user_edit(None)), ("UserAdd", user_add(4, "", None)), ("ClientEdit", None),
           ("ClientChangePassword", client_change_password(0)), ("UserChangePassword", user_change_password("x")),
           ("UserChangePassword", {"userid": 3})]
    later = intake()
    run = run_hooks(php, tmp_path, bad, define=configured(later.url))
    quiet(run)
    assert later.received == [] and run.activity == []


def test_the_constants_set_in_the_file_itself_work_too(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    source = FILE.read_text(encoding="utf-8")
    edited = source.replace("define('SYNCD_INTAKE_URL', '');", f"define('SYNCD_INTAKE_URL', '{server.url}');")
    edited = edited.replace("define('SYNCD_INTAKE_SECRET', '');", f"define('SYNCD_INTAKE_SECRET', '{SECRET}');")
    assert edited.count(SECRET) == 1 and server.url in edited
    hooks = tmp_path / "syncd_hooks.php"
    hooks.write_text(edited, encoding="utf-8")
    run = run_hooks(php, tmp_path, [("PreDeleteClient", pre_delete_client(9))], include=[hooks])
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "deleted", "id": 9, "email": ""}]
    assert_signed(server.received[0])


def test_unconfigured_it_sends_and_logs_nothing(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    makers: tuple[Callable[[], dict[str, Any]], ...] = (client_add, client_edit, client_close, pre_delete_client,
                                                        user_add, user_edit)
    makers += (client_change_password, user_change_password)
    calls = [(hook, make()) for hook, make in zip(HOOKS, makers, strict=True)]
    run = run_hooks(php, tmp_path, calls)  # the file's own placeholders: both constants ''
    quiet(run)
    assert run.activity == [] and server.received == []


@pytest.mark.parametrize(("define", "says"), [
    ({"SYNCD_INTAKE_URL": "URL"}, "SYNCD_INTAKE_SECRET is empty"),
    ({"SYNCD_INTAKE_SECRET": SECRET}, "SYNCD_INTAKE_URL is empty"),
    ({"SYNCD_INTAKE_URL": f"ftp://{SECRET}@example.test", "SYNCD_INTAKE_SECRET": SECRET},
     "SYNCD_INTAKE_URL is not an http:// or https:// URL"),
])
def test_half_configured_it_says_what_to_set_once_per_request(php: str, tmp_path: Path, intake: MakeIntake,
                                                              define: dict[str, str], says: str) -> None:
    server = intake()
    define = {k: server.url if v == "URL" else v for k, v in define.items()}
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit(7)), ("ClientEdit", client_edit(8))], define=define)
    quiet(run)
    assert server.received == []
    (line,) = run.activity
    assert line.startswith("syncd: 2 event(s) not sent: ") and says in line
    assert_clean(run)


def test_events_of_one_request_coalesce_per_client(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    calls = [
        ("UserEdit", user_edit(3, "ADA@example.test")),  # the client's owner, same email: covered by ClientEdit
        ("ClientEdit", client_edit(7)),
        ("ClientEdit", client_edit(7)),                  # twice: one event
        ("ClientClose", client_close(7)),                # no email: keeps ClientEdit's
        ("ClientAdd", client_add(8)),
        ("UserAdd", user_add(4, "ada@example.TEST", None)),  # after a client with that email: left out
        ("UserEdit", user_edit(5, "other@example.test")),
        ("UserEdit", user_edit(5, "other@example.test")),
        ("ClientEdit", client_edit(9, "nine@example.test")),
        ("PreDeleteClient", pre_delete_client(9)),       # "deleted" wins, the email stays
        ("ClientEdit", client_edit(9, "nine@example.test")),
    ]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url))
    quiet(run)
    assert payloads(server) == [
        {"side": "whmcs", "event": "changed", "id": 7, "email": "Ada@Example.test"},
        {"side": "whmcs", "event": "password", "id": 8, "email": "Ada@Example.test", "password": PASSWORD},
        {"side": "whmcs", "event": "changed", "id": 5, "email": "other@example.test"},
        {"side": "whmcs", "event": "deleted", "id": 9, "email": "nine@example.test"},
    ]
    for request in server.received:
        assert_signed(request)
    assert run.activity == []


def test_a_mass_change_keeps_500_events_and_says_the_rest_is_left_to_the_poll(php: str, tmp_path: Path) -> None:
    # Without a secret nothing is sent, which shows the bound without 500 requests against the clock.
    calls = [("ClientClose", client_close(n)) for n in range(1, 503)]
    run = run_hooks(php, tmp_path, calls, define={"SYNCD_INTAKE_URL": "http://127.0.0.1:9"})
    quiet(run)
    assert run.activity == ["syncd: 2 more client(s) changed in this request than the 500 reported; "
                            "syncd's next poll will find them",
                            "syncd: 500 event(s) not sent: SYNCD_INTAKE_URL is set but SYNCD_INTAKE_SECRET is empty; "
                            "set it to syncd's [intake] secret"]


@pytest.mark.parametrize(("status", "says"), [
    (401, "HTTP 401, the intake refused the signature: SYNCD_INTAKE_SECRET must be syncd's [intake] secret"),
    (404, "HTTP 404: SYNCD_INTAKE_URL must be the intake's base URL (without /v1/events)"),
    (400, "HTTP 400, the intake refused the event"),
    (500, "HTTP 500"),
])
def test_a_refusing_intake_is_one_log_line_and_nothing_else(php: str, tmp_path: Path, intake: MakeIntake, status: int,
                                                             says: str) -> None:
    server = intake(status=status)
    calls = [("ClientEdit", client_edit(7)), ("ClientAdd", client_add(8)), ("UserAdd", user_add(4, password=None))]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url))
    quiet(run)
    assert len(server.received) == 1  # the first failure stops the rest: nothing is retried, the poll finds them
    (line,) = run.activity
    assert line == (f"syncd: 3 of 3 event(s) not sent to {server.url}: {says}"
                    + line.split(says, 1)[1])
    assert line.endswith("; syncd's next poll will find the change(s)")
    assert_clean(run, server)


def test_an_intake_nobody_listens_on_is_one_log_line(php: str, tmp_path: Path) -> None:
    url = closed_port_url()
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit(7)), ("UserEdit", user_edit())],
                    define=configured(url.replace("http://", f"http://syncd:{SECRET}@")))
    quiet(run)
    (line,) = run.activity
    assert line.startswith(f"syncd: 2 of 2 event(s) not sent to {url}: could not reach it (")
    assert run.seconds < 10
    assert_clean(run)


def test_a_hanging_intake_holds_the_request_3_s_at_most_in_all(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake(delay=15)
    calls = [("ClientEdit", client_edit(n)) for n in (7, 8, 9)]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url))
    quiet(run)
    assert 2.5 < run.seconds < 7, run.seconds  # 3 s for the whole batch, not 3 s per event
    assert len(server.received) == 1
    (line,) = run.activity
    assert line.startswith(f"syncd: 3 of 3 event(s) not sent to {server.url}: could not reach it (")
    assert "timed out" in line.lower()
    assert_clean(run, server)


def test_a_slow_intake_gets_3_s_for_all_of_a_requests_events(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake(delay=1.2)  # each answer takes 1.2 s: the third has 0.6 s left of the 3 s
    calls = [("ClientEdit", client_edit(n)) for n in (7, 8, 9, 10)]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url))
    quiet(run)
    assert run.seconds < 6, run.seconds
    assert [p["id"] for p in payloads(server)] == [7, 8, 9]
    (line,) = run.activity
    assert line.startswith(f"syncd: 2 of 4 event(s) not sent to {server.url}: could not reach it (")


def test_without_logactivity_a_failure_is_still_silent(php: str, tmp_path: Path) -> None:
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit())], define=configured(closed_port_url()),
                    activity=False)
    quiet(run)


def test_a_throwing_activity_log_is_not_let_into_whmcs(php: str, tmp_path: Path) -> None:
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit()), ("UserEdit", None)],
                    define=configured(closed_port_url()), activity="throw")
    quiet(run)


def test_events_before_an_exit_are_still_sent(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    """WHMCS ends many requests with a redirect and exit(): the events are sent at shutdown all the same."""
    server = intake()
    run = run_hooks(php, tmp_path, [("ClientEdit", client_edit(7)), ("exit", None), ("ClientEdit", client_edit(8))],
                    define=configured(server.url))
    quiet(run)
    assert [p["id"] for p in payloads(server)] == [7]


def test_outside_whmcs_it_does_nothing(php: str) -> None:
    alone = subprocess.run([php, "-d", "error_reporting=-1", "-d", "display_errors=1", str(FILE)],
                           capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0 and alone.stdout == "" and alone.stderr == "", alone.stdout + alone.stderr


# --- passwords (issue 14, DESIGN §11) --------------------------------------------------------------------

def test_client_change_password_sends_a_signed_password_event(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    run = run_hooks(php, tmp_path, [("ClientChangePassword", client_change_password(7, " sp ace\\\"'é "))],
                    define=configured(server.url))
    quiet(run)
    (request,) = server.received
    assert_signed(request)
    # the password as WHMCS gave it, untrimmed, and the signature over the exact bytes sent
    assert json.loads(request.body) == {"side": "whmcs", "event": "password", "id": 7, "email": "",
                                        "password": " sp ace\\\"'é "}
    assert run.activity == []


def test_user_change_password_goes_to_each_client_the_user_owns(php: str, tmp_path: Path,
                                                                intake: MakeIntake) -> None:
    """UserChangePassword gives only the user's id: the file pages through GetUsers to find it."""
    server = intake()
    many = [{**USERS[2], "id": 100 + n, "email": f"u{n}@example.test"} for n in range(150)]  # page 1 and part of 2
    run = run_hooks(php, tmp_path, [("UserChangePassword", user_change_password(3))], define=configured(server.url),
                    users=many + USERS)
    quiet(run)
    assert sorted((p["event"], p["id"], p["password"]) for p in payloads(server)) == [
        ("password", 7, PASSWORD), ("password", 8, PASSWORD)]  # owned; not 12, where the user only helps
    assert [c[1] for c in run.api_calls] == [{"limitstart": 0, "limitnum": 100}, {"limitstart": 100, "limitnum": 100}]
    assert run.activity == []
    assert_clean(run, server)


def test_user_add_with_a_password_and_a_clients_own_event_merge(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    server = intake()
    calls = [("ClientEdit", client_edit(7)), ("UserAdd", user_add(3)), ("PreDeleteClient", pre_delete_client(8))]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url), users=USERS)
    quiet(run)
    assert payloads(server) == [
        # the client's own event keeps its email and takes its owner's password
        {"side": "whmcs", "event": "password", "id": 7, "email": "Ada@Example.test", "password": PASSWORD},
        {"side": "whmcs", "event": "deleted", "id": 8, "email": ""},  # a deletion wins over a password
    ]


def test_a_password_wins_over_changed_and_the_newest_password_wins(php: str, tmp_path: Path,
                                                                   intake: MakeIntake) -> None:
    server = intake()
    calls = [("ClientChangePassword", client_change_password(7, "first-Pa55")), ("ClientEdit", client_edit(7)),
             ("ClientChangePassword", client_change_password(7, "second-Pa55")), ("ClientClose", client_close(7))]
    run = run_hooks(php, tmp_path, calls, define=configured(server.url))
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "password", "id": 7, "email": "Ada@Example.test",
                                 "password": "second-Pa55"}]


@pytest.mark.parametrize("host", ["localhost", "[::1]", "127.0.0.1"])
def test_passwords_go_over_loopback_http(php: str, tmp_path: Path, intake: MakeIntake, host: str) -> None:
    server = intake()
    url = server.url.replace("127.0.0.1", host)
    if host == "[::1]":  # the capturing intake listens on IPv4: only the rule is checked, by the log
        run = run_hooks(php, tmp_path, [("ClientChangePassword", client_change_password(7))],
                        define=configured(url))
        quiet(run)
        assert all("not sent (sent as plain changes)" not in line for line in run.activity)
        return
    run = run_hooks(php, tmp_path, [("ClientChangePassword", client_change_password(7))], define=configured(url))
    quiet(run)
    assert [p["event"] for p in payloads(server)] == ["password"]


def test_passwords_never_go_over_plain_http_to_another_host(php: str, tmp_path: Path, intake: MakeIntake) -> None:
    """http:// to a host not named as loopback (here 2130706433, which curl takes for 127.0.0.1, so that
    the capture sees what would cross a network): each password event goes as "changed", without the
    password, and the log says why once."""
    server = intake()
    url = server.url.replace("127.0.0.1", "2130706433")
    run = run_hooks(php, tmp_path, [("ClientChangePassword", client_change_password(7)), ("ClientAdd", client_add(8))],
                    define=configured(url))
    quiet(run)
    assert payloads(server) == [{"side": "whmcs", "event": "changed", "id": 7, "email": ""},
                                {"side": "whmcs", "event": "changed", "id": 8, "email": "Ada@Example.test"}]
    assert run.activity == [
        "syncd: 2 new password(s) not sent (sent as plain changes): SYNCD_INTAKE_URL is not https:// nor http:// "
        "to this host (127.0.0.1, localhost, [::1]); give syncd's intake tls_cert/tls_key and an https:// URL to "
        "carry passwords"]
    for request in server.received:
        assert PASSWORD.encode() not in request.body
    assert_clean(run, server)


@pytest.mark.parametrize(("script", "carried"), [
    ("/var/www/whmcs/includes/api.php", False),      # the External API: syncd's own AddClient
    ("C:\\inetpub\\whmcs\\includes\\api.php", False),  # the same on Windows
    ("/var/www/whmcs/cart.php", True),               # a sign-up at checkout
    ("/var/www/whmcs/register.php", True),           # the client area's registration
    ("/var/www/whmcs/admin/clientsadd.php", True),   # an admin adding a client
    ("/var/www/whmcs/api.php", True),                # not WHMCS's API endpoint
])
def test_a_password_given_to_an_account_made_through_the_external_api_is_not_sent(
        php: str, tmp_path: Path, intake: MakeIntake, script: str, carried: bool) -> None:
    """syncd creates a WHMCS client for a WordPress user through the API, with a random password (or the
    WordPress one); ClientAdd and UserAdd then see that password. Sent back, a random one would replace the
    person's WordPress password. A sign-up anywhere else is carried."""
    server = intake()
    run = run_hooks(php, tmp_path, [("ClientAdd", client_add(8)), ("UserAdd", user_add(3, "owner@example.test"))],
                    define=configured(server.url), users=USERS, server={"SCRIPT_FILENAME": script})
    quiet(run)
    assert payloads(server) == ([
        {"side": "whmcs", "event": "password", "id": 8, "email": "Ada@Example.test", "password": PASSWORD},
        {"side": "whmcs", "event": "password", "id": 7, "email": "", "password": PASSWORD},
    ] if carried else [
        {"side": "whmcs", "event": "changed", "id": 8, "email": "Ada@Example.test"},
        {"side": "whmcs", "event": "changed", "id": 7, "email": ""},
    ])
    assert_clean(run, server)
