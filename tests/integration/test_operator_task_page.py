"""The operator's task page through a real HTTP server, on both backends: the customer's task
with its response drawn by the type's partial, every assignment with its answer, escaped
customer text, and the links to it from the pages that list tasks."""

from __future__ import annotations

import re

import httpx
import pytest

from taskforce.clock import now_ms
from taskforce.tasks import service, simulator
from tests.integration.test_worker_pages import sign_in

SCRIPT = "<script>window.pwned = 1</script>"
LEASE = 600


@pytest.fixture
def web(server):
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as client:
        yield client


def _answer(db, worker, category: str) -> None:
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=LEASE)
        service.complete(conn, lease.task_id, {"category": category}, worker_id=worker["id"],
                         lease_token=lease.token)


def test_task_page_is_for_operators_only(web, factory):
    task = factory.task(factory.customer())
    path = f"/operator/tasks/{task['id']}"
    assert web.get(path, follow_redirects=False).headers["location"] == "/login"
    sign_in(web, factory.user("worker"))
    assert web.get(path).status_code == 403


def test_task_page_draws_the_response_and_every_answer(web, factory, db):
    customer = factory.customer("Acme <b>Corp</b>")
    task = factory.task(customer, overlap=2, instruction=f"{SCRIPT} Public or private?",
                        categories=["public", "<i>private</i>"], metadata={"note": "<img src=x onerror=alert(1)>"})
    first, second = factory.user("worker", email="ann@example.test"), factory.user("worker", email="bob@example.test")
    _answer(db, first, "public")
    token = sign_in(web, factory.user("operator"))
    assert token

    page = web.get(f"/operator/tasks/{task['id']}").text
    assert '<span class="badge pending" id="task-status">pending</span>' in page
    assert 'id="response"' not in page  # no response yet
    assert "<dt>Answers</dt><dd>1 of 2</dd>" in page
    (ann,) = re.findall(r'<div class="assignment" data-assignment="\d+">(.*?)</div>\s*'
                        r'(?=<div class="assignment"|\s*</section>)', page, re.S)
    assert "ann@example.test" in ann and "submitted" in ann
    assert '<li class="chosen">public' in ann  # the type's response partial, with ann's answer

    _answer(db, second, "public")
    page = web.get(f"/operator/tasks/{task['id']}").text
    assert '<span class="badge completed" id="task-status">completed</span>' in page
    response = re.search(r'<section class="card response" id="response">(.*?)</section>', page, re.S).group(1)
    assert '<li class="chosen">public' in response and "<li class=\"\">&lt;i&gt;private&lt;/i&gt;</li>" in response
    assert "Combined from 2 answers" in response
    assert page.count('data-assignment="') == 2 and "bob@example.test" in page
    # Customer text is text: the instruction, name, categories and metadata never become markup.
    assert SCRIPT not in page and "&lt;script&gt;window.pwned = 1&lt;/script&gt; Public or private?" in page
    assert "Acme &lt;b&gt;Corp&lt;/b&gt;" in page and "<b>Corp" not in page
    assert "<img src=x" not in page and "<i>private" not in page
    assert re.search(r"Callback deliveries.*badge pending", page, re.S)


def test_task_page_for_pending_held_test_and_missing_tasks(web, factory, db):
    customer = factory.customer()
    waiting = factory.task(customer)
    token = sign_in(web, factory.user("operator"))
    assert token
    page = web.get(f"/operator/tasks/{waiting['id']}").text
    assert "Nobody has taken this task yet" in page and "No callback is owed yet" in page

    worker = factory.user("worker", email="holder@example.test")
    with db.write() as conn:
        service.claim(conn, worker["id"], lease_seconds=LEASE)
    page = web.get(f"/operator/tasks/{waiting['id']}").text
    assert "holder@example.test" in page and "holding it" in page and "lease ends" in page

    test_task = factory.task(customer, is_test=True)
    with db.write() as conn:
        simulator.complete_due(conn, now=now_ms(), delay_ms=0)
    page = web.get(f"/operator/tasks/{test_task['id']}").text
    assert '<span class="badge test">test</span>' in page and "simulated worker" in page
    assert '<li class="chosen">' in page

    for missing in ("0123456789abcdef01234567", "nope", "%3Cscript%3E"):
        r = web.get(f"/operator/tasks/{missing}")
        assert r.status_code == 404 and "no such task" in r.text and "<script>" not in r.text


def test_pages_that_list_tasks_link_to_it(web, factory, db):
    customer = factory.customer()
    reviewed = factory.task(customer, overlap=2, max_overlap=2, min_confidence=0.99)
    _answer(db, factory.user("worker"), "public")
    _answer(db, factory.user("worker"), "private")  # they disagree: the task waits for review
    held = factory.task(customer, urgency="immediate")
    waiting = factory.task(customer, urgency="week")
    holder = factory.user("worker")
    with db.write() as conn:
        assert service.claim(conn, holder["id"], lease_seconds=LEASE).task_id == held["id"]
    sign_in(web, factory.user("operator"))
    queue = web.get("/operator/queue").text
    assert f'<a class="mono" href="/operator/tasks/{held["id"]}">' in queue  # in progress
    assert f'<a class="mono" href="/operator/tasks/{waiting["id"]}">' in queue  # oldest waiting
    review = web.get("/operator/review").text
    assert f'<h2><a class="mono" href="/operator/tasks/{reviewed["id"]}">' in review
    skips = web.get(f"/operator/skips?task={waiting['id']}").text
    assert f'href="/operator/tasks/{waiting["id"]}"' in skips
    page = web.get(f"/operator/tasks/{reviewed['id']}").text
    assert 'href="/operator/review">waiting for review' in page and page.count('data-assignment="') == 2
