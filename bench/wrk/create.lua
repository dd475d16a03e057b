-- POST one categorize task per request (bench/bench_create.py). BODY_KIND=json|form, AUTH=header.
local kind = os.getenv("BODY_KIND") or "json"
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("AUTH") or ""
if kind == "json" then
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"callback_url":"http://www.example.com/callback",' ..
    '"instruction":"Is this company public or private?","attachment_type":"website",' ..
    '"attachment":"http://www.google.com/","categories":["public","private"]}'
else
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "callback_url=http%3A%2F%2Fwww.example.com%2Fcallback" ..
    "&instruction=Is+this+company+public+or+private%3F&attachment_type=website" ..
    "&attachment=http%3A%2F%2Fwww.google.com%2F&categories%5B%5D=public&categories%5B%5D=private"
end

