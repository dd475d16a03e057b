"""``taskforce customers show/rotate`` and ``taskforce dispatch``, run as the CLI."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook
from typer.testing import CliRunner

from taskforce.cli import app

from tests.integration.test_callback_helpers import (
    Receiver,
    completed_test_task,
    customer_row,
    dispatch_process,
)


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("TASKFORCE_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKFORCE_SECRET_KEY", "cli-test")
    return database_url


def test_show_and_rotate(cli_env, factory, db):
    customer = factory.customer("acme")
    before = customer_row(db, customer.id)
    runner = CliRunner()

    shown = runner.invoke(app, ["customers", "show", "acme"])
    assert shown.exit_code == 0, shown.output
    assert before["callback_auth_key"] in shown.output and before["signing_secret"] in shown.output
    assert "previous secret" not in shown.output

    rotated = runner.invoke(app, ["customers", "rotate", str(customer.id), "--signing-secret",
                                  "--callback-auth-key"])
    assert rotated.exit_code == 0, rotated.output
    after = customer_row(db, customer.id)
    assert after["signing_secret"] != before["signing_secret"]
    assert after["signing_secret"].startswith("whsec_") and after["signing_secret"] in rotated.output
    assert after["callback_auth_key"] != before["callback_auth_key"]
    assert after["previous_signing_secret"] == before["signing_secret"]

    shown = runner.invoke(app, ["customers", "show", "acme"])
    assert f"previous secret:   {before['signing_secret']}" in shown.output

    missing = runner.invoke(app, ["customers", "show", "nobody"])
    assert missing.exit_code == 1 and "no customer" in missing.output
    assert runner.invoke(app, ["customers", "rotate", "acme"]).exit_code != 0


def test_dispatch_runs_alone_and_delivers(cli_env, factory, db, tmp_path):
    customer = factory.customer()
    env = {"TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
    with Receiver() as receiver:
        completed_test_task(db, factory, customer, receiver.url)
        with dispatch_process(env, tmp_path):
            (got,) = receiver.wait_for(1, timeout=60)
    Webhook(customer_row(db, customer.id)["signing_secret"]).verify(got.body, got.headers)


def test_dispatch_refuses_a_bad_allow_list(cli_env, monkeypatch):
    monkeypatch.setenv("TASKFORCE_CALLBACK_ALLOWED_NETWORKS", '["not-a-network"]')
    result = CliRunner().invoke(app, ["dispatch"])
    assert result.exit_code != 0
    assert "callback_allowed_networks" in result.output
