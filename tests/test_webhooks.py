"""Webhooks cannot reach inside: every address a user might aim one at inside the network is
refused when saved and again when sent, redirects are not followed, the checked address is the one
connected to, answers are cut short, and "send test" goes the same way.

Every listener is on 127.0.0.1; the positive cases allow it the way an operator allows an internal
chat server (FOREWARN_WEBHOOK_ALLOWED_HOSTS)."""

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from forecasts import services
from forecasts.models import Notification, Profile, WebhookDelivery
from forecasts.services import webhook_targets
from tests import factories
from tests.api_support import client_for, error_fields

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


class Receiver(BaseHTTPRequestHandler):
    """Records every request; answers what `answers[path]` says: (status, headers, body)."""

    received: list = []
    answers: dict = {}

    def do_POST(self):
        self.answer()

    def do_GET(self):
        self.answer()

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Receiver.received.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = Receiver.answers.get(self.path, (200, {}, b"ok"))
        if callable(payload):
            payload(self)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    """A webhook endpoint on 127.0.0.1; yields its port."""
    Receiver.received, Receiver.answers = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture
def raw_listener():
    """A bare TCP listener on 127.0.0.1 (where an FTP server would be); yields the socket."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.setblocking(False)
        yield listener


def connected_to(listener) -> bool:
    try:
        accepted, _ = listener.accept()
    except BlockingIOError:
        return False
    accepted.close()
    return True


def allow(settings, *entries: str) -> None:
    settings.FOREWARN = {**settings.FOREWARN, "WEBHOOK_ALLOWED_HOSTS": list(entries)}


real_getaddrinfo = socket.getaddrinfo


def resolver(answers: dict):
    """A stand-in for getaddrinfo: each name's list of answers, one per lookup (the last repeats)."""
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        sequence = answers[host]
        addresses = sequence[min(lookups.count(host), len(sequence)) - 1]
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    return getaddrinfo, lookups


@pytest.fixture
def names(monkeypatch):
    """Host names that resolve inside the network, one to a private address, one to a public and a loopback one."""
    getaddrinfo, _ = resolver(
        {
            "intranet.example.test": [["10.1.2.3"]],
            "mixed.example.test": [[PUBLIC, "127.0.0.1"]],
            "metadata.example.test": [["169.254.169.254"]],
            "v6-loopback.example.test": [["::1"]],
        }
    )
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# Every target here is reachable from the worker in some setup; port 1 stands for any service.
SSRF_TARGETS = [
    # loopback, spelled every way a resolver accepts
    "http://127.0.0.1:{port}/hook",
    "http://127.0.0.2/",
    "http://localhost:{port}/hook",
    "http://LOCALHOST./",
    "http://[::1]:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://2130706433:{port}/hook",
    "http://0x7f000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::7f00:1]/",
    # the services next to the worker
    "http://127.0.0.1:6379/",
    "http://127.0.0.1:5432/",
    "http://127.0.0.1:8000/admin/",
    # link-local and the cloud metadata service
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[fe80::1]/",
    # private, shared and special ranges
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://198.18.0.1/",
    "http://192.0.0.1/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    # names that resolve inside
    "http://intranet.example.test/",
    "http://metadata.example.test/",
    "http://v6-loopback.example.test/",
    "http://mixed.example.test/",
    # credentials and other schemes
    "http://user:pass@example.org/hook",
    "https://token@example.org/hook",
    "ftp://127.0.0.1:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
]


@pytest.mark.parametrize("target", SSRF_TARGETS)
def test_every_inside_target_is_refused_at_save_time(forecaster, names, receiver, target):
    url = target.format(port=receiver)
    response = client_for(forecaster).patch("/api/me/", {"settings": {"webhook_url": url}}, format="json")
    assert response.status_code == 400, (url, response.content)
    assert error_fields(response) == {"settings.webhook_url"}
    assert Profile.objects.for_user(forecaster).webhook_url == ""
    assert Receiver.received == []


@pytest.mark.parametrize("target", SSRF_TARGETS)
def test_every_inside_target_is_refused_at_send_time_even_if_stored_before(names, receiver, monkeypatch, target):
    connections = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: connections.append(args))
    url = target.format(port=receiver)
    delivery = factories.WebhookDeliveryFactory(url=url)
    assert services.webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None, delivery.last_error
    assert delivery.last_error
    assert connections == [] and Receiver.received == []


def test_the_refusal_says_why(forecaster):
    response = client_for(forecaster).patch(
        "/api/me/", {"settings": {"webhook_url": "http://169.254.169.254/latest/"}}, format="json"
    )
    (message,) = response.json()["settings.webhook_url"]
    assert "169.254.169.254 is not a public address" in message and "FOREWARN_WEBHOOK_ALLOWED_HOSTS" in message
    response = client_for(forecaster).patch(
        "/api/me/", {"settings": {"webhook_url": "https://user:secret@hooks.example.org/x"}}, format="json"
    )
    assert response.json()["settings.webhook_url"] == ["A webhook URL may not contain a user name or password."]


def test_a_public_host_is_accepted_and_stored(forecaster, monkeypatch):
    getaddrinfo, _ = resolver({"hooks.example.org": [[PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]]})
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = "https://hooks.example.org/services/T000/B000/XXXX"
    response = client_for(forecaster).patch("/api/me/", {"settings": {"webhook_url": url}}, format="json")
    assert response.status_code == 200, response.content
    assert Profile.objects.for_user(forecaster).webhook_url == url


def test_a_host_that_does_not_resolve_is_refused_at_save_time(forecaster, monkeypatch):
    def nowhere(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    with pytest.raises(ValidationError) as refused:
        services.profile_update(user=forecaster, webhook_url="https://nowhere.example.org/hook")
    assert "does not resolve" in refused.value.message_dict["webhook_url"][0]


def test_the_allow_list_lifts_the_rule_for_its_hosts_only(forecaster, settings, receiver):
    allow(settings, "localhost")
    services.profile_update(user=forecaster, webhook_url=f"http://localhost:{receiver}/hook")
    with pytest.raises(ValidationError):
        services.profile_update(user=forecaster, webhook_url=f"http://127.0.0.1:{receiver}/hook")
    allow(settings, "127.0.0.0/8", "chat.internal")
    services.profile_update(user=forecaster, webhook_url=f"http://127.0.0.1:{receiver}/hook")
    for still_refused in ["http://10.0.0.1/", "http://user:pass@127.0.0.1/", f"ftp://127.0.0.1:{receiver}/"]:
        with pytest.raises(ValidationError):
            services.profile_update(user=forecaster, webhook_url=still_refused)


def test_an_allowed_endpoint_receives_the_post(settings, receiver):
    allow(settings, "127.0.0.1")
    delivery = factories.WebhookDeliveryFactory(url=f"http://127.0.0.1:{receiver}/hook?channel=forecasts")
    assert services.webhook_deliver(delivery_id=delivery.pk) is True
    ((method, path, headers, body),) = Receiver.received
    assert (method, path, headers["Host"]) == ("POST", "/hook?channel=forecasts", f"127.0.0.1:{receiver}")
    assert "text" in json.loads(body)


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:{port}/admin/", "ftp://127.0.0.1:{ftp}/", "http://169.254.169.254/"]
)
def test_a_redirect_is_not_followed(settings, receiver, raw_listener, location):
    allow(settings, "127.0.0.1")
    ftp_port = raw_listener.getsockname()[1]
    Receiver.answers["/hook"] = (302, {"Location": location.format(port=receiver, ftp=ftp_port)}, b"")
    delivery = factories.WebhookDeliveryFactory(url=f"http://127.0.0.1:{receiver}/hook")
    assert services.webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.last_error.startswith("HTTP 302 Found: redirects are not followed")
    assert [(method, path) for method, path, _, _ in Receiver.received] == [("POST", "/hook")]
    assert not connected_to(raw_listener)


def test_the_checked_address_is_the_one_connected_to(settings, receiver, monkeypatch):
    """DNS rebinding: the first lookup says public, any later one says loopback."""
    getaddrinfo, lookups = resolver({"hooks.example.test": [[PUBLIC], ["127.0.0.1"]]})
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    connected = []
    real_create_connection = socket.create_connection

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        # Stand in for the public server with the local receiver.
        return real_create_connection(("127.0.0.1", receiver), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    delivery = factories.WebhookDeliveryFactory(url="http://hooks.example.test/hook")
    assert services.webhook_deliver(delivery_id=delivery.pk) is True
    assert connected == [(PUBLIC, 80)] and lookups == ["hooks.example.test"]
    ((_, _, headers, _),) = Receiver.received
    assert headers["Host"] == "hooks.example.test"


def test_tls_names_the_original_host(monkeypatch):
    getaddrinfo, _ = resolver({"hooks.example.test": [[PUBLIC]]})
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    connected, server_names = [], []
    monkeypatch.setattr(socket, "create_connection", lambda address, *args, **kwargs: connected.append(address))

    def wrap_socket(context, sock, server_hostname=None, **kwargs):
        server_names.append(server_hostname)
        raise ssl.SSLCertVerificationError("certificate verify failed")

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", wrap_socket)
    delivery = factories.WebhookDeliveryFactory(url="https://hooks.example.test:8443/hook")
    with pytest.raises(services.WebhookDeliveryFailed):
        services.webhook_deliver(delivery_id=delivery.pk)
    assert connected == [(PUBLIC, 8443)] and server_names == ["hooks.example.test"]


def test_the_answer_is_read_up_to_the_cap(settings, receiver):
    allow(settings, "127.0.0.1")
    written = []

    def endless(handler):
        handler.send_response(200)
        handler.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(10_000):  # 640 MiB if nobody stops reading
                handler.wfile.write(chunk)
                written.append(len(chunk))
        except OSError:
            pass

    Receiver.answers["/hook"] = (200, {}, endless)
    delivery = factories.WebhookDeliveryFactory(url=f"http://127.0.0.1:{receiver}/hook")
    started = time.monotonic()
    assert services.webhook_deliver(delivery_id=delivery.pk) is True
    assert time.monotonic() - started < 3
    time.sleep(0.2)
    assert sum(written) < 100 * 65536  # the server stopped when the reader went away


def test_an_answer_that_trickles_in_is_cut_off_at_the_time_limit(settings, receiver):
    allow(settings, "127.0.0.1")
    settings.FOREWARN = {**settings.FOREWARN, "WEBHOOK_TIMEOUT_SECONDS": 1}

    def trickle(handler):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for _ in range(40):
                handler.wfile.write(b"X-Slow: a\r\n")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    Receiver.answers["/hook"] = (200, {}, trickle)
    delivery = factories.WebhookDeliveryFactory(url=f"http://127.0.0.1:{receiver}/hook")
    started = time.monotonic()
    with pytest.raises(services.WebhookDeliveryFailed, match="No answer within 1 seconds"):
        services.webhook_deliver(delivery_id=delivery.pk)
    assert time.monotonic() - started < 2.5


# --- send test ------------------------------------------------------------------------------


def test_send_test_delivers_through_the_same_path_and_creates_nothing(forecaster, settings, receiver):
    allow(settings, "127.0.0.1")
    services.profile_update(user=forecaster, webhook_url=f"http://127.0.0.1:{receiver}/hook")
    response = client_for(forecaster).post("/api/me/webhook/test/")
    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "delivered", "detail": "HTTP 200 OK"}
    ((method, _, _, body),) = Receiver.received
    assert method == "POST" and json.loads(body) == {"text": services.WEBHOOK_TEST_TEXT}
    assert not Notification.objects.exists() and not WebhookDelivery.objects.exists()


def test_send_test_says_why_it_was_refused_or_failed(forecaster, settings, receiver):
    Profile.objects.create(user=forecaster, webhook_url=f"http://127.0.0.1:{receiver}/hook")  # stored before the check
    client = client_for(forecaster)
    body = client.post("/api/me/webhook/test/").json()
    assert body["outcome"] == "refused" and "127.0.0.1 is not a public address" in body["detail"]
    assert Receiver.received == []

    allow(settings, "127.0.0.1")
    Receiver.answers["/hook"] = (302, {"Location": "ftp://127.0.0.1/"}, b"")
    body = client.post("/api/me/webhook/test/").json()
    assert body["outcome"] == "failed" and "redirects are not followed" in body["detail"]
    Receiver.answers["/hook"] = (500, {}, b"")
    assert client.post("/api/me/webhook/test/").json() == {
        "outcome": "failed",
        "detail": "HTTP 500 Internal Server Error",
    }

    Profile.objects.filter(user=forecaster).update(webhook_url="")
    assert client.post("/api/me/webhook/test/").json() == {"outcome": "refused", "detail": "No webhook URL is set."}
    assert not Notification.objects.exists()


def test_send_test_needs_credentials_and_is_throttled(forecaster):
    assert client_for().post("/api/me/webhook/test/").status_code == 401
    client = client_for(forecaster)
    answers = [client.post("/api/me/webhook/test/").status_code for _ in range(12)]
    assert answers.count(200) == 10 and answers[-1] == 429


def test_a_bad_allow_list_entry_is_a_configuration_error(settings):
    allow(settings, "10.0.0.0/33")
    with pytest.raises(webhook_targets.ImproperlyConfigured):
        webhook_targets.allowed_hosts()
