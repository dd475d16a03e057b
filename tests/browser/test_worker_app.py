"""A worker in a real browser: answers one task of every type (keyboard included), the customer
API shows the results; hostile customer text never executes or injects an element; the pages
carry a strict CSP and refuse to be framed."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select, update

from taskforce.models import tasks
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def loopback_only(page, server):
    """Abort (and record) any request that would leave 127.0.0.1."""
    escaped: list[str] = []

    def route(r):
        if r.request.url.startswith(server.url):
            r.continue_()
        else:
            escaped.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return escaped


def api_task(server, customer, task_id):
    r = httpx.get(f"{server.url}/v1/task/{task_id}", auth=customer.live_auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_worker_answers_every_type(page, server, factory, sign_in, loopback_only):
    customer = factory.customer()
    local = server.url + "/static"
    cat = factory.task(customer, "categorization", now=1, attachment_type="text",
                       attachment="Line one\n    indented line two",
                       categories=["public", "private", "non-profit"], category_ids={"p1": "private"})
    tra = factory.task(customer, "transcription", now=2, attachment_type="image",
                       attachment=f"{local}/receipt.png")
    pho = factory.task(customer, "phonecall", now=3)
    com = factory.task(customer, "comparison", now=4, attachment=None,
                       attachments=[f"{local}/a.jpg", f"{local}/b.jpg"], fields={"why": "Why?"})
    worker = factory.user("worker")
    sign_in(worker["email"], PASSWORD)
    assert page.url == f"{server.url}/work"
    page.click("text=Start working")

    # categorization: whitespace of a text attachment kept; key 2 picks the second category.
    page.wait_for_url(f"**/work/task/{cat['id']}")
    assert page.inner_text("pre.attachment-text") == "Line one\n    indented line two"
    assert re.match(r"\d+:\d\d", page.inner_text("[data-lease-clock]"))
    page.keyboard.press("2")
    assert page.is_checked("input[name=category][value='1']")
    page.keyboard.press("Enter")

    # transcription: fields, two rows added with the button (an empty one is ignored).
    page.wait_for_url(f"**/work/task/{tra['id']}")
    assert page.get_attribute("img.attachment-media", "src") == f"{local}/receipt.png"
    page.fill("input[name=field-0]", "Front page")
    page.fill("input[name=field-1]", "A cat")
    page.fill("input[name=row-0-0]", "kn0thing")
    page.fill("input[name=row-0-1]", "12")
    page.click("[data-add-row]")
    page.click("[data-add-row]")
    assert page.locator("[data-rows] tr").count() == 3
    page.fill("[data-rows] tr:nth-child(3) input >> nth=0", "spez")
    page.fill("[data-rows] tr:nth-child(3) input >> nth=1", "3")
    page.click("[data-submit]")

    # phonecall: a tel: link in E.164; key 3 picks "success"; Ctrl+Enter submits from a field.
    page.wait_for_url(f"**/work/task/{pho['id']}")
    assert page.get_attribute("a.tel", "href") == "tel:+15055006865"
    assert "Alexandr Wang" in page.inner_text(".call")
    page.keyboard.press("3")
    page.fill("input[name=field-0]", "alex@example.com")
    page.keyboard.press("Control+Enter")

    # comparison: side by side; key 2 then a reason.
    page.wait_for_url(f"**/work/task/{com['id']}")
    assert page.locator(".side-by-side img").count() == 2
    page.keyboard.press("2")
    page.fill("input[name=field-0]", "different stripes")
    page.keyboard.press("Enter")  # implicit submission from a text input

    page.wait_for_url(f"{server.url}/work")
    assert "No tasks are waiting" in page.inner_text("main")
    assert page.inner_text("[data-done-today]") == "4"

    expected = {
        cat["id"]: {"category": "private", "category_id": "p1"},
        tra["id"]: {"fields": {"title": "Front page", "top_result": "A cat"},
                    "rows": [{"username": "kn0thing", "comment_count": "12"},
                             {"username": "spez", "comment_count": "3"}]},
        pho["id"]: {"outcome": "success", "fields": {"email": "alex@example.com"}},
        com["id"]: {"choice": "no", "fields": {"why": "different stripes"}},
    }
    for task_id, response in expected.items():
        task = api_task(server, customer, task_id)
        assert task["status"] == "completed" and task["response"] == response
        assert task["completed_at"]
    assert loopback_only == []


def test_a_refused_answer_and_the_row_limit(page, server, factory, sign_in, loopback_only):
    customer = factory.customer()
    task = factory.task(customer, "transcription", attachment_type="text", attachment="x")
    sign_in(factory.user("worker")["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{task['id']}")
    for _ in range(12):
        page.click("[data-add-row]", force=True)
    assert page.locator("[data-rows] tr").count() == 10
    assert page.is_disabled("[data-add-row]")
    # Bypass the browser's own check to see the server's: a blank required field.
    page.eval_on_selector("[data-answer-form]", "f => f.noValidate = true")
    page.fill("input[name=field-0]", "only one")
    page.click("[data-submit]")
    # Named as the worker sees it (the field's description), never by the customer's key.
    error = page.inner_text(".answer-error")
    assert error.startswith("Title of the top result is empty: fill it in"), error
    assert "top_result" not in error
    assert page.input_value("input[name=field-0]") == "only one"
    assert api_task(server, customer, task["id"])["status"] == "pending"


def test_skip_then_nothing_left(page, server, factory, sign_in):
    customer = factory.customer()
    task = factory.task(customer, attachment_type="text", attachment="x")
    sign_in(factory.user("worker")["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{task['id']}")
    page.click("[data-skip]")
    page.wait_for_url(f"{server.url}/work")
    assert "No tasks are waiting" in page.inner_text("main")
    assert api_task(server, customer, task["id"])["status"] == "pending"


def test_skip_with_a_reason_and_flag_a_broken_attachment(page, server, factory, sign_in, db):
    customer = factory.customer()
    first = factory.task(customer, now=1, attachment_type="text", attachment="x")
    second = factory.task(customer, now=2, attachment_type="image", attachment=f"{server.url}/static/nope.png")
    worker = factory.user("worker")
    sign_in(worker["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{first['id']}")
    # The reason is tucked away until asked for; Enter in the note skips (it does not submit).
    assert not page.is_visible("select[name=skip_reason]")
    page.click("details.skip-reason summary")
    page.select_option("select[name=skip_reason]", "unclear")
    page.fill("input[name=skip_note]", "<i>which</i> fields?")
    page.press("input[name=skip_note]", "Enter")
    page.wait_for_url(f"**/work/task/{second['id']}")
    page.click("[data-flag-attachment]")
    page.wait_for_url(f"{server.url}/work")
    assert "attachment is flagged" in page.inner_text("main")

    page.click("text=Sign out")
    sign_in(factory.user("operator")["email"], PASSWORD)
    page.goto(f"{server.url}/operator/skips")
    flagged = page.locator(f'tr[data-flagged="{second["id"]}"]')
    assert "1" in flagged.inner_text() and "nope.png" in flagged.inner_text()
    assert page.locator(f'tr[data-flagged="{first["id"]}"]').count() == 0
    reasons = page.locator(".skip-reason").all_inner_texts()
    assert "instructions unclear: <i>which</i> fields?" in reasons and "attachment broken" in reasons
    assert page.locator("table.skips i").count() == 0  # shown as text, never as markup
    flagged.locator("a.mono").click()
    page.wait_for_url(f"**/operator/skips?task={second['id']}")
    assert page.locator("table.skips tbody tr").count() == 1
    assert worker["email"] in page.inner_text("table.skips")


# -- hostile customer text ---------------------------------------------------------------------

SCRIPTY = [
    "<script>window.__pwned=1</script>",
    "<ScRiPt>window.__pwned=1</sCrIpT>",
    '"><img src=x onerror="window.__pwned=1">',
    "'><IMG SRC=x OnErRoR=window.__pwned=1>",
    "</textarea></pre><svg onload=window.__pwned=1>",
    "javascript:window.__pwned=1",
    "JaVaScRiPt:alert(1)",
    " JAVASCRIPT:alert(1)",
    "data:text/html,<script>window.__pwned=1</script>",
    "DaTa:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+",
    "{{ 7*7 }}{% raw %}",
]
BAD_URLS = ["javascript:window.__pwned=1", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
            "data:text/html,<script>window.__pwned=1</script>", "DATA:image/svg+xml,<svg onload=alert(1)>",
            " javascript:alert(1)", "vbscript:msgbox(1)", "//evil.example/x.png"]


def _force_params(db, task_id, **changes):
    """Store what validation would refuse today, as an old row might hold it: the page must still
    never turn it into a link or a source."""
    with db.read() as conn:
        params = dict(conn.execute(select(tasks.c.params).where(tasks.c.id == task_id)).scalar())
    params.update(changes)
    with db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(params=params))


CHECK_DOM = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = a.value.trim().toLowerCase().replace(/[\\s\\x00-\\x1f]/g, '');
      if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
      if (['href', 'src', 'action', 'formaction', 'data', 'srcdoc', 'xlink:href'].includes(a.name)
          && (v.startsWith('javascript:') || v.startsWith('data:') || v.startsWith('vbscript:')
              || v.startsWith('//') || v === 'x'))
        bad.push(el.tagName + ' ' + a.name + '=' + a.value);
      if (a.name === 'srcdoc') bad.push(el.tagName + ' srcdoc');
    }
  }
  const scripts = [...document.scripts].map(s => s.getAttribute('src'));
  return {bad, scripts, svg: document.querySelectorAll('svg').length,
          pwned: window.__pwned === undefined ? null : window.__pwned,
          sources: [...document.querySelectorAll('[src]')].map(e => e.getAttribute('src'))};
}"""


def test_hostile_strings_never_execute_or_inject(page, server, factory, db, sign_in, loopback_only):
    customer = factory.customer()
    made = []
    for i, evil in enumerate(SCRIPTY):
        bad_url = BAD_URLS[i % len(BAD_URLS)]
        others = [s for s in SCRIPTY if s != evil][:3]
        kind = ["categorization", "transcription", "phonecall", "comparison"][i % 4]
        common = {"instruction": f"{evil}\n{bad_url}", "now": i}
        if kind == "categorization":
            t = factory.task(customer, kind, attachment_type="text", attachment=evil,
                             categories=[evil, *others], category_ids={evil: evil}, **common)
        elif kind == "transcription":
            t = factory.task(customer, kind, attachment_type="text", attachment=evil,
                             fields={evil: evil, "b": others[0]}, row_fields={evil: evil, others[1]: "d"},
                             **common)
        elif kind == "phonecall":
            t = factory.task(customer, kind, entity_name=evil, script=evil, fields={evil: evil}, **common)
            _force_params(db, t["id"], attachment_type="website", attachment=bad_url)
        else:
            t = factory.task(customer, kind, choices=[evil, *others], fields={evil: evil}, **common)
            _force_params(db, t["id"], attachments=[bad_url, BAD_URLS[(i + 1) % len(BAD_URLS)]])
        made.append((t, evil, kind))
    # And every attachment type with a bad URL stored in it.
    for j, kind in enumerate(["image", "video", "audio", "pdf", "website"]):
        t = factory.task(customer, "categorization", attachment_type="website",
                         attachment=server.url + "/static/x", now=100 + j)
        _force_params(db, t["id"], attachment_type=kind, attachment=BAD_URLS[j])
        made.append((t, BAD_URLS[j], "categorization"))

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(factory.user("worker")["email"], PASSWORD)
    page.click("text=Start working")
    for task, evil, kind in made:
        page.wait_for_url(f"**/work/task/{task['id']}")
        page.wait_for_load_state("load")
        found = page.evaluate(CHECK_DOM)
        assert found["bad"] == [], (kind, evil, found["bad"])
        assert found["scripts"] == ["/static/work.js"]
        assert found["svg"] == 0 and found["pwned"] is None
        assert all(s.startswith("http://127.0.0.1") or s.startswith("/") for s in found["sources"]), found
        # The hostile text is shown as text.
        assert evil.strip() in page.inner_text("main") or kind == "comparison"
        assert "49" not in page.inner_text(".instruction")
        page.click("[data-skip]")
    page.wait_for_url(f"{server.url}/work")
    assert dialogs == []
    assert page.evaluate("window.__pwned === undefined")
    assert loopback_only == []


def test_a_hostile_category_round_trips_exactly(page, server, factory, sign_in):
    customer = factory.customer()
    evil = '"><img src=x onerror="window.__pwned=1">\r\n <script>x</script>'
    task = factory.task(customer, attachment_type="text", attachment="x", categories=["ok", evil])
    sign_in(factory.user("worker")["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{task['id']}")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/work")
    assert api_task(server, customer, task["id"])["response"] == {"category": evil}


def test_pages_send_a_strict_csp_and_refuse_framing(page, server, factory, sign_in):
    factory.task(factory.customer(), attachment_type="text", attachment="x")
    sign_in(factory.user("worker")["email"], PASSWORD)
    home = page.goto(f"{server.url}/work")
    page.click("text=Start working")
    page.wait_for_url("**/work/task/*")
    task_page = page.goto(page.url)
    for response in (home, task_page, page.goto(f"{server.url}/login")):
        headers = response.headers
        csp = headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert "'unsafe-inline'" not in directives["script-src"]
        assert "'unsafe-eval'" not in directives["script-src"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["object-src"] == ["'none'"]
        assert headers["x-frame-options"] == "DENY"
    # An inline script injected anyway would be refused by the browser.
    blocked = page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective));
        const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
        document.body.appendChild(s);
        setTimeout(() => resolve(window.__inline === 1 ? 'ran' : 'silent'), 500);
    })""")
    assert blocked.startswith("script-src")
