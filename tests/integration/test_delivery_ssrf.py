"""Real connections under the address policy, aimed only at loopback: a canary listener on
127.0.0.1 must receive nothing when loopback is not allowed — not by address, not through a
name that resolves to it, not by a redirect to it. Nothing here talks to a non-loopback address;
names are resolved by a stub resolver that never leaves the process."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.abc import AbstractResolver

from taskforce.callbacks import http
from taskforce.callbacks.address_policy import RefusedAddress, parse_networks
from taskforce.callbacks.dispatcher import Dispatcher
from taskforce.callbacks.service import send_test_callback

from tests.integration.test_callback_helpers import (
    Answer,
    Receiver,
    attempt_rows,
    completed_test_task,
    customer_row,
    delivery_rows,
)


class StubResolver(AbstractResolver):
    """Resolves the names it was given, as a DNS server under an attacker's control would."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names

    async def resolve(self, host, port=0, family=socket.AF_INET):
        if host not in self.names:
            raise OSError(f"stub resolver: unknown name {host}")
        return [{"hostname": host, "host": ip, "port": port,
                 "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for ip in self.names[host]]

    async def close(self) -> None:
        pass


@pytest.fixture
def strict(settings):
    settings.callback_allowed_networks = []
    return settings


def _deliver(db, settings, resolver=None):
    return asyncio.run(Dispatcher(db, settings, resolver=resolver).run_once())


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "localhost", "localhost.",
                                  "0177.0.0.1", "2130706433", "127.1"])
def test_canary_receives_nothing_by_address(db, factory, strict, host):
    customer = factory.customer()
    with Receiver() as canary:
        task = completed_test_task(db, factory, customer, f"http://{host}:{canary.port}/hook")
        (result,) = _deliver(db, strict)
        assert canary.requests == []
    assert result.outcome.status_code is None
    row = delivery_rows(db, task["id"])[0]
    # A refused target is a failed attempt, with the reason; it is retried like any failure.
    assert row["status"] == "pending" and row["attempts"] == 1
    (attempt,) = attempt_rows(db, row["id"])
    assert attempt["error"].startswith("refused: ")
    assert "loopback" in attempt["error"]


def test_canary_receives_nothing_through_a_name_resolving_to_it(db, factory, strict):
    customer = factory.customer()
    resolver = StubResolver({"hooks.customer.example": ["127.0.0.1"],
                             "rebind.customer.example": ["::1", "127.0.0.1"]})
    with Receiver() as canary:
        a = completed_test_task(db, factory, customer, f"http://hooks.customer.example:{canary.port}/")
        b = completed_test_task(db, factory, customer, f"http://rebind.customer.example:{canary.port}/")
        results = _deliver(db, strict, resolver)
        assert canary.requests == []
    assert all(r.outcome.status_code is None for r in results)
    for task, name in ((a, "hooks"), (b, "rebind")):
        (attempt,) = attempt_rows(db, delivery_rows(db, task["id"])[0]["id"])
        assert attempt["error"].startswith(f"refused: {name}.customer.example resolves to ")
        assert "loopback" in attempt["error"]


def test_a_name_is_judged_on_every_address_it_resolves_to(db, factory, settings):
    """Only 127.0.0.1 is allowed; the name resolves to the canary on 127.0.0.2 first and to the
    receiver on 127.0.0.1 second: the connection goes to the allowed address only."""
    settings.callback_allowed_networks = ["127.0.0.1/32"]
    customer = factory.customer()
    with Receiver("127.0.0.2") as canary, Receiver() as receiver:
        resolver = StubResolver({"mixed.example": ["127.0.0.2", "127.0.0.1"]})
        completed_test_task(db, factory, customer, f"http://mixed.example:{receiver.port}/")
        if canary.port == receiver.port:  # pragma: no cover - vanishingly rare
            pytest.skip("ports collided")
        completed_test_task(db, factory, customer, f"http://mixed.example:{canary.port}/")
        results = _deliver(db, settings, resolver)
        assert canary.requests == []
    assert len(receiver.requests) == 1
    assert sorted(r.outcome.status_code or 0 for r in results) == [0, 200]


def test_canary_receives_nothing_through_a_redirect(db, factory, settings):
    """The receiver (allowed, 127.0.0.1) redirects to the canary (not allowed, 127.0.0.2)."""
    settings.callback_allowed_networks = ["127.0.0.1/32"]
    customer = factory.customer()
    with Receiver("127.0.0.2") as canary:
        with Receiver(answer=Answer(status=302, headers={"Location": canary.url})) as receiver:
            task = completed_test_task(db, factory, customer, receiver.url)
            _deliver(db, settings)
            assert len(receiver.requests) == 1
        # And straight at the canary, for contrast: refused before connecting.
        direct = completed_test_task(db, factory, customer, canary.url)
        _deliver(db, settings)
        assert canary.requests == []
    assert delivery_rows(db, task["id"])[0]["last_status_code"] == 302
    (attempt,) = attempt_rows(db, delivery_rows(db, direct["id"])[0]["id"])
    assert attempt["error"].startswith("refused: 127.0.0.2 is a loopback address")


def test_the_socket_is_checked_even_if_a_resolver_slipped():
    """The last line: the socket factory refuses the exact address it is asked to connect to."""
    make = http._socket_factory(parse_networks([]))
    for family, address in ((socket.AF_INET, ("127.0.0.1", 80)), (socket.AF_INET, ("10.1.2.3", 80)),
                            (socket.AF_INET6, ("::1", 80, 0, 0))):
        with pytest.raises(RefusedAddress):
            make((family, socket.SOCK_STREAM, 6, "", address))
    sock = make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)))
    sock.close()  # created, never connected


def test_send_test_callback_follows_the_same_policy(db, factory, settings):
    customer = factory.customer()
    row = customer_row(db, customer.id)
    with Receiver() as canary:
        settings.callback_allowed_networks = []
        refused = asyncio.run(send_test_callback(settings, row, canary.url))
        assert canary.requests == []
        settings.callback_allowed_networks = ["127.0.0.0/8"]
        sent = asyncio.run(send_test_callback(settings, row, canary.url))
        (got,) = canary.wait_for(1)
    assert refused["status_code"] is None and refused["error"].startswith("refused: ")
    assert sent["status_code"] == 200 and sent["error"] is None and sent["body_excerpt"] == "ok"
    assert isinstance(sent["latency_ms"], int)
    from standardwebhooks import Webhook

    Webhook(row["signing_secret"]).verify(got.body, got.headers)
    assert got.headers["scale-callback-auth"] == row["callback_auth_key"]
    assert got.json["task"]["status"] == "completed"
    bad = asyncio.run(send_test_callback(settings, row, "ftp://example.com/"))
    assert bad["status_code"] is None and "http" in bad["error"]
