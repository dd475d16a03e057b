"""/openapi.json and /docs tell the truth: every documented operation is served (and nothing in
/v1 that is served is left undocumented), the schema names the parameters the handlers read,
and /docs works with no internet: Swagger UI's assets come from this server, and a real browser
renders every operation and runs one through "Try it out"."""

from __future__ import annotations

import re
import shutil
import threading

import pytest

from taskforce.task_types import REGISTRY
from tests.factories import VALID_PARAMS

CHROMIUM = "/usr/bin/chromium"


def test_every_documented_operation_is_served(client, factory):
    customer = factory.customer()
    task = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"], auth=customer.live_auth).json()
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    operations = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert operations
    for method, path in operations:
        url = path.replace("{task_id}", task["task_id"])
        for variant in (url, url + "/"):
            r = client.request(method, variant, auth=customer.live_auth, follow_redirects=False)
            body = r.json()
            # Served: any documented answer but "no such route"/"method not allowed".
            assert r.status_code != 405, (method, variant)
            assert not (r.status_code == 404 and "no such endpoint" in body.get("error", "")), (method, variant)
            assert str(r.status_code) in spec["paths"][path][method.lower()]["responses"], (method, variant, r.text)


def test_every_v1_route_is_documented(app):
    from taskforce.api import v1

    spec = app.openapi()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for route in v1.build_router().routes:
        for method in route.methods:
            if route.include_in_schema:
                assert (method, route.path) in documented
            else:  # only the trailing-slash twins and the "no such task type" answer are hidden
                assert (method, route.path.rstrip("/")) in documented or route.path.startswith("/v1/task/{name}")


def test_the_schema_names_what_the_handlers_read(client):
    spec = client.get("/openapi.json").json()
    for task_type in REGISTRY:
        for endpoint in task_type.endpoints:
            op = spec["paths"][f"/v1/task/{endpoint}"]["post"]
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert set(schema["properties"]) == set(task_type.params_model.model_fields)
            assert set(schema["required"]) == {n for n, f in task_type.params_model.model_fields.items()
                                               if f.is_required()}
            assert set(op["responses"]) >= {"200", "400", "401", "409", "413", "415"}
            assert op["security"] == [{"apiKey": []}]
    listing = spec["paths"]["/v1/tasks"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "limit", "offset", "next_token", "status", "type", "start_time", "end_time", "project", "batch", "unique_id",
        "completed_after", "completed_before", "updated_after", "updated_before", "tags", "customer_review_status"}
    assert set(listing["responses"]["200"]["content"]["application/json"]["schema"]["required"]) == {
        "docs", "total", "limit", "offset", "has_more", "next_token"}
    assert "500" in spec["paths"]["/v1/task/{task_id}/cancel"]["post"]["responses"]
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "basic", "description": "Your API key as the username, an empty password."}


def test_docs_page_loads_nothing_from_elsewhere(client):
    for path in ("/docs", "/docs/"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        external = [u for u in re.findall(r"""(?:src|href)=["']([^"']+)""", html) if not u.startswith("/")]
        assert external == []
        for asset in re.findall(r"""(?:src|href)=["'](/docs/static/[^"']+)""", html):
            got = client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
        assert "validatorUrl\": null" in html  # no badge fetched from validator.swagger.io


@pytest.mark.browser
def test_swagger_ui_renders_and_runs_offline(server, factory):
    if not shutil.which("chromium") and not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test-deps installs it)")
    from playwright.sync_api import sync_playwright

    customer = factory.customer()
    spec = _spec(server)
    outside: list[str] = []
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            _drive(sync_playwright, server, customer, spec, outside)
        except BaseException as exc:  # handed to the test thread below
            failure.append(exc)

    # Its own thread: Playwright's sync API refuses a thread where an asyncio loop runs, as one
    # does in the main thread once tests/browser's session-wide Playwright has started.
    thread = threading.Thread(target=drive)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the browser did not finish"
    if failure:
        raise failure[0]
    assert outside == []


def _drive(sync_playwright, server, customer, spec, outside) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu",
                                           "--disable-background-networking", "--no-first-run"])
        try:
            page = browser.new_page()

            def only_loopback(route):
                if route.request.url.startswith(server.url):
                    route.continue_()
                else:  # as on a machine with no internet
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_loopback)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".opblock", timeout=15000)
            summaries = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/v1/tasks" in s for s in summaries) and any("/v1/task/categorize" in s for s in summaries)
            assert len(summaries) == sum(len(ops) for ops in spec["paths"].values())
            # Authorize with the key, then run GET /v1/tasks from the page.
            page.click("button.authorize")
            page.fill(".modal-ux input[type=text]", customer.live_key)
            page.click(".modal-ux button.authorize")
            page.click(".modal-ux button.close-modal")
            block = page.locator(".opblock-get", has=page.locator(".opblock-summary-path", has_text=re.compile(r"^/v1/tasks$")))
            block.locator(".opblock-summary").click()
            block.locator("button.try-out__btn").click()
            block.locator("button.execute").click()
            block.locator(".live-responses-table tbody .response-col_status").first.wait_for(timeout=15000)
            assert block.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip() == "200"
            assert errors == []
        finally:
            browser.close()


def _spec(server) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as r:
        return json.load(r)


#: Refusals JSON Schema cannot state: a phone number's validity (libphonenumber decides), and
#: that category_ids' values are among the categories.
CROSS_PARAMETER = {("phonecall", "phone_number"), ("categorization", "category_ids[2]"),
                   ("categorization", "category_ids")}


def test_the_schema_refuses_what_the_api_refuses(app):
    """Issue 13, item 6: a body valid by /openapi.json but refused by the API (an empty
    callback_url was) misleads every client that validates before sending."""
    from jsonschema import Draft202012Validator

    from taskforce.task_types import REGISTRY
    from tests.integration.test_api_validation import CASES, DROP, ENDPOINT, _body

    spec = app.openapi()

    def validator(type_name):
        op = spec["paths"][f"/v1/task/{REGISTRY.get(type_name).endpoints[0]}"]["post"]
        return Draft202012Validator(op["requestBody"]["content"]["application/json"]["schema"],
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    for type_name, body in VALID_PARAMS.items():
        assert not list(validator(type_name).iter_errors(body)), type_name
    extra = [(t, {"callback_url": ""}, "callback_url") for t in ENDPOINT] + [
        (t, {name: value}, name) for t in ENDPOINT
        for name, value in [("callback_url", "http://exa mple.com/"), ("callback_url", "http://:80/"),
                            ("instruction", "   "), ("instruction", "a\x00b"), ("project", " "),
                            ("unique_id", "x\x00")]]
    slipped = [(t, changes, param) for t, changes, param in CASES + extra
               if (t, param) not in CROSS_PARAMETER and validator(t).is_valid(_body(t, changes))]
    assert not slipped, "\n".join(map(repr, slipped))
    # And what the API accepts, the schema accepts.
    for url in ("HTTPS://example.com", "http://[::1]:8080/cb?x=1#f", "http://user:pw@example.com/"):
        assert validator("categorization").is_valid({**VALID_PARAMS["categorization"], "callback_url": url}), url
    for type_name, changes in [
            ("comparison", {"attachment_type": "text", "attachments": ["first text", "second", "third"]}),
            ("comparison", {"choices": DROP, "fields": {"why": "Why?"}}),
            ("categorization", {"attachment_type": "text", "attachment": "plain text"}),
            ("phonecall", {"attachment_type": "text", "attachment": "notes"})]:
        assert validator(type_name).is_valid(_body(type_name, changes)), (type_name, changes)
    # The list's bounds too.
    listing = {p["name"]: p["schema"] for p in spec["paths"]["/v1/tasks"]["get"]["parameters"]}
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"]) == (1, 100)
    assert (listing["offset"]["minimum"], listing["offset"]["maximum"]) == (0, 1_000_000)


def test_evaluation_routes_are_documented_and_answer_their_schema(client, factory):
    """Gold tasks' routes are in /openapi.json like the rest: each type (the annotation types
    too) has its create operation (the type's parameters plus expected_response), the list has its query and
    page, and what the routes answer matches what is documented."""
    import jsonschema

    from taskforce.api import evaluation_api

    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for route in evaluation_api.build_router().routes:
        for method in route.methods:
            if route.include_in_schema:
                assert (method, route.path) in documented
            else:  # the trailing-slash twins and the "no such type" catch-all
                assert (method, route.path.rstrip("/")) in documented or route.path.startswith(
                    "/v1/evaluation_tasks/{name}")
    for task_type in REGISTRY:
        for endpoint in task_type.endpoints:
            path = f"/v1/evaluation_tasks/{endpoint}"
            op = spec["paths"][path]["post"]
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert "expected_response" in schema["required"]
            assert set(schema["properties"]) == set(task_type.params_model.model_fields) - {
                "project", "batch"} | {"expected_response"}
            assert set(op["responses"]) >= {"200", "400", "401", "409", "413", "415"}
            assert op["security"] == [{"apiKey": []}]
    listing = spec["paths"]["/v1/evaluation_tasks"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "offset"}
    assert set(listing["responses"]) >= {"200", "400", "401"} and listing["security"] == [{"apiKey": []}]

    customer = factory.customer()
    body = {**VALID_PARAMS["categorization"], "expected_response": {"category": "private"}}
    path = f"/v1/evaluation_tasks/{REGISTRY.get('categorization').endpoints[0]}"
    created = client.post(path, json=body, auth=customer.live_auth)
    assert created.status_code == 200, created.text
    jsonschema.validate(created.json(), spec["paths"][path]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert created.json()["created_at"].endswith("Z")
    page = client.get("/v1/evaluation_tasks", auth=customer.live_auth)
    jsonschema.validate(page.json(), listing["responses"]["200"]["content"]["application/json"]["schema"])
    assert [d["task_id"] for d in page.json()["docs"]] == [created.json()["task_id"]]
    for response, status in [(client.post(path, json={**body, "expected_response": "x"}, auth=customer.live_auth), 400),
                             (client.post(path, json=body), 401),
                             (client.get("/v1/evaluation_tasks?limit=0", auth=customer.live_auth), 400),
                             (client.get("/v1/evaluation_tasks"), 401)]:
        op = spec["paths"][path]["post"] if response.request.method == "POST" else listing
        assert response.status_code == status, response.text
        jsonschema.validate(response.json(), op["responses"][str(status)]["content"]["application/json"]["schema"])
