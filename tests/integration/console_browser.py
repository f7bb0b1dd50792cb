#!/usr/bin/python3
"""Drives the web console (/console/) in headless Chromium against a running portraitd.

Run by tests/integration/console_test.cc, which starts the daemon with generated customers, the
rules and the exec sink it names, and runs this script twice:
  --phase main      makes the test customers, then checks, in the browser, what the admin, the
                    marketer and the auditor see and do, the security headers, that API values
                    are written as text (an XSS name fires no alert), that sign-out forgets the
                    token, and that no request of the browser leaves the origin;
  --phase tampered  after the test altered audit record --bad-seq, the auditor's chain check
                    reports the chain broken at that record.
Screenshots of each view go to --shots. Exits non-zero naming every failed check.

usage: console_browser.py --url URL --token ADMIN_TOKEN --flag FILE --shots DIR --phase main|tampered
                          [--bad-seq N]
"""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    sys.exit("console_browser.py needs python3-selenium, chromium and chromium-driver "
             "(scripts/deps.sh installs them)")

XSS = "<img src=x onerror=alert(1)>"
WANG = "c-wang"   # the demo customer: Chinese name, consents, events, tasks
PHONE = "13800138000"
BIRTHDAY = "1990-02-28"
ASSETS = ["", "index.html", "console.css", "dom.js", "api.js", "overview.js", "customer.js",
          "tasks.js", "audit.js", "app.js", "chart.min.js"]

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, purpose="service", token=None):
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if token is not False:
            request.add_header("Authorization", "Bearer " + (token or self.token))
        if purpose:
            request.add_header("X-Purpose", purpose)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                status, headers, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, e.headers, e.read()
        ctype = headers.get("Content-Type", "")
        return status, headers, (json.loads(raw) if ctype.startswith("application/json") else raw)

    def ok(self, method, path, body=None, purpose="service"):
        status, _, answer = self.call(method, path, body, purpose)
        if status >= 300:
            sys.exit(f"{method} {path} -> {status}: {answer}")
        return answer


def make_customers(api, flag):
    """The demo customer, the XSS customer, and their consents, events and tasks."""
    api.ok("PUT", "/v1/profiles/" + WANG, {"fields": {
        "name": "王芳", "phone": PHONE, "email": "fang@example.cn", "birthday": BIRTHDAY,
        "city": "上海", "gender": "female"}, "tags": {"add": ["vip"]}})
    api.ok("PUT", "/v1/profiles/cx-xss", {"fields": {"name": XSS, "phone": "13900139000",
                                                     "city": XSS, "birthday": "1985-05-05"}})
    for customer in (WANG, "cx-xss"):
        api.ok("POST", f"/v1/profiles/{customer}/consents", {
            "purpose": "marketing", "status": "granted", "channel": "sms", "source": "web-form",
            "notice": "隐私政策 v3", "evidence": "signup form, box 2 ticked"})
    api.ok("POST", f"/v1/profiles/{WANG}/consents", {
        "purpose": "marketing", "status": "withdrawn", "channel": "email", "source": "call-centre",
        "notice": "隐私政策 v3"})
    if os.path.exists(flag):
        os.remove(flag)
    api.ok("POST", "/v1/events", [
        {"id": "cw-1", "type": "order.placed", "subject": WANG, "data": {"amount": 88}},
        {"id": "cw-2", "type": "cart.updated", "subject": WANG, "data": {"items": 2}},
        {"id": "cw-3", "type": "console.ping", "subject": WANG},
        {"id": "cw-4", "type": "console.offer", "subject": WANG}])
    api.ok("POST", "/v1/scores/rfm/refresh", purpose=None)  # the overview's heat map
    deadline = time.time() + 30
    while time.time() < deadline:
        dead = api.ok("GET", f"/v1/tasks?profile={WANG}&state=dead")["tasks"]
        if dead:
            return dead[0]["id"]
        time.sleep(0.2)
    sys.exit("the console-ping task never died")


def check_headers(api):
    for name in ASSETS:
        status, headers, _ = api.call("GET", "/console/" + name, token=False, purpose=None)
        csp = headers.get("Content-Security-Policy", "")
        check(status == 200 and "default-src 'self'" in csp and "unsafe-inline" not in csp and
              "frame-ancestors 'none'" in csp and headers.get("X-Frame-Options") == "DENY" and
              headers.get("X-Content-Type-Options") == "nosniff" and
              headers.get("Referrer-Policy") == "no-referrer",
              f"GET /console/{name}: 200 with CSP, X-Frame-Options DENY, nosniff, no-referrer")
    host, port = api.url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/console")
    redirect = connection.getresponse()
    check(redirect.status == 308 and redirect.getheader("Location") == "/console/",
          "GET /console -> 308 /console/")
    connection.close()
    status, _, _ = api.call("GET", "/console/nope.js", token=False, purpose=None)
    check(status == 404, "GET /console/nope.js -> 404")
    status, _, _ = api.call("POST", "/console/", token=False, purpose=None)
    check(status == 405, "POST /console/ -> 405")


class Browser:
    def __init__(self, url, shots):
        self.url, self.shots = url, shots
        self.origin = url.rstrip("/")
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000", "--lang=en-US", "--no-first-run",
                    "--disable-extensions", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--disable-default-apps",
                    "--disable-features=Translate,OptimizationHints,MediaRouter"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.requests = []   # every URL the page asked for
        self.documents = []  # (url, response headers) of console documents
        self.console = []    # the browser's console messages

    def drain_logs(self):
        for entry in self.d.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif message["method"] == "Network.responseReceived" and params.get("type") == "Document":
                self.documents.append((params["response"]["url"], params["response"]["headers"]))
        self.console += self.d.get_log("browser")

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, condition, what, seconds=20):
        try:
            return WebDriverWait(self.d, seconds, poll_frequency=0.05).until(lambda d: condition())
        except TimeoutException:
            check(False, "waited for " + what)
            return None

    def view(self):
        return self.js("return document.body.dataset.view || ''")

    def go(self, fragment, name):
        """Opens #/fragment and waits until view `name` has drawn; returns its time in ms."""
        self.js("delete document.body.dataset.view; location.hash = arguments[0];", fragment)
        self.wait(lambda: self.view() == name, "view " + name)
        return int(self.js("return document.body.dataset.ms || '-1'"))

    def sign_in(self, token):
        self.d.get(self.origin + "/console/")
        self.wait(lambda: self.view() == "signin", "the sign-in form")
        self.d.find_element(By.ID, "token").send_keys(token)
        self.d.find_element(By.ID, "signin-button").click()
        self.wait(lambda: self.view() not in ("", "signin"), "the first view after sign-in")
        check(token not in self.d.current_url, "the token is not in the page's URL")

    def purpose(self, purpose, name):
        self.js("delete document.body.dataset.view;")
        Select(self.d.find_element(By.ID, "purpose")).select_by_value(purpose)
        self.wait(lambda: self.view() == name, "view " + name + " for " + purpose)

    def text(self, css):
        """The rendered text of the first element `css` selects, or None (read in one step: a
        row redrawn meanwhile is never a stale reference)."""
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return e ? e.innerText.trim() : null;", css)

    def shot(self, name, height=1000):
        """Saves the whole page: the window made as tall as the page and the browser's frame."""
        frame = int(self.js("return window.outerHeight - window.innerHeight"))
        page = int(self.js("return document.documentElement.scrollHeight"))
        self.d.set_window_size(1400, max(height, page + frame))
        self.d.save_screenshot(os.path.join(self.shots, name + ".png"))
        self.d.set_window_size(1400, 1000)

    def alert_fired(self):
        try:
            self.d.switch_to.alert.dismiss()
            return True
        except NoAlertPresentException:
            return False

    def sign_out(self):
        self.d.find_element(By.ID, "signout").click()
        self.wait(lambda: self.view() == "signin", "the sign-in form after sign-out")
        kept = self.js("return Object.keys(sessionStorage)")
        check(kept == [], f"sign-out leaves sessionStorage empty {kept}")
        check(self.d.get_cookies() == [], "no cookie is ever set")


def admin_checks(b, admin, dead_task, flag):
    b.sign_in(admin)
    ms = {"overview": b.go("#/overview", "overview")}
    check(len(b.d.find_elements(By.CSS_SELECTOR, "canvas")) >= 4,
          "the overview draws its charts (tasks, stages, activity, segments)")
    check(b.text("#figures") is not None and "profiles" in b.text("#figures"), "the overview's counts")
    check(len(b.d.find_elements(By.CSS_SELECTOR, "#rfm-grid td.cell")) == 8, "the RFM heat map's 8 cells")
    b.shot("overview")

    ms["customer"] = b.go("#/customer/" + WANG, "customer")
    check(b.text('#fields tr[data-field="name"] td:nth-child(2)') == "王芳", "the Chinese name as stored")
    check(b.text('#fields tr[data-field="birthday"] td:nth-child(2)') == BIRTHDAY,
          "the admin (service) reads the birthday")
    consents = b.text("#consents") or ""
    check("web-form" in consents and "隐私政策 v3" in consents and "box 2 ticked" in consents,
          "the consent history shows source, notice and evidence")
    check("order.placed" in (b.text("#events") or ""), "the events timeline")
    check(len(b.d.find_elements(By.ID, "export")) == 1, "the admin may download the bundle")
    b.shot("customer")
    b.purpose("marketing", "customer")
    links = b.d.find_elements(By.CSS_SELECTOR, "#tasks a.consent-link")
    if check(len(links) == 1, "the marketing task names the consent record that authorised it"):
        record = links[0].text.split("#")[1]
        links[0].click()
        check("highlight" in (b.d.find_element(By.ID, "consent-" + record).get_attribute("class") or ""),
              "the authorising record is in the history and is highlighted")
    b.purpose("service", "customer")

    ms["customer (XSS)"] = b.go("#/customer/cx-xss", "customer")
    check(b.text('#fields tr[data-field="name"] td:nth-child(2)') == XSS, "the XSS name shows as text")
    check(len(b.d.find_elements(By.CSS_SELECTOR, "#view img")) == 0, "no <img> made from a value")
    time.sleep(0.3)
    check(not b.alert_fired(), "no alert fired")
    b.shot("customer-xss")

    ms["tasks"] = b.go("#/tasks", "tasks")
    row = f"#task-{dead_task}"
    check(b.text(row + " .state") == "dead", f"task {dead_task} is listed dead")
    b.shot("tasks")
    open(flag, "w").close()  # the exec sink delivers from now on
    b.d.find_element(By.CSS_SELECTOR, row + " button.retry").click()
    b.wait(lambda: b.text(row + " .state") == "delivered", f"task {dead_task} delivered", 30)
    check(b.text(row + " .state") == "delivered", f"the retried task {dead_task} is delivered")

    ms["audit"] = b.go("#/audit", "audit")
    b.sign_out()
    return ms


def marketer_checks(b, token):
    b.sign_in(token)
    check(not b.d.find_element(By.ID, "purpose").find_element(By.XPATH, "..").is_displayed(),
          "no purpose picker for a role with one purpose")
    b.go("#/overview", "overview")
    check("admin permission" in b.d.find_element(By.ID, "view").text,
          "the marketer's overview says the counts need admin")
    b.go("#/customer/" + WANG, "customer")
    phone = b.text('#fields tr[data-field="phone"] td:nth-child(2)') or ""
    check("*" in phone and PHONE not in phone, "the marketer sees the phone masked")
    check(b.text('#fields tr[data-field="phone"] td:nth-child(3)') == "masked", "...marked masked")
    check(b.text('#fields tr[data-field="birthday"] td:nth-child(2)') == "withheld",
          "the birthday is named as withheld")
    source = b.d.page_source
    check(BIRTHDAY not in source and "02-28" not in source and PHONE not in source,
          "neither the birthday nor the phone is anywhere in the page")
    check(len(b.d.find_elements(By.ID, "export")) == 0, "no bundle download without export")
    b.shot("customer-marketer")
    b.sign_out()


def auditor_checks(b, token, bad_seq):
    b.sign_in(token)
    b.go("#/audit", "audit")
    check(len(b.d.find_elements(By.CSS_SELECTOR, "#audit-records tbody tr")) > 0, "audit records")
    b.d.find_element(By.ID, "verify").click()
    b.wait(lambda: b.text("#verdict") is not None, "the chain check's verdict", 60)
    verdict = b.text("#verdict") or ""
    if bad_seq is None:
        check(verdict.startswith("Intact"), "the auditor's chain check: intact")
        key = b.text("#public-key") or ""
        check(len(key) == 64 and all(c in "0123456789abcdef" for c in key), "the public key shown")
        b.go("#/customer/" + WANG, "customer")
        check("consents.read" not in b.d.find_element(By.ID, "view").text and
              "no profiles.read permission" in b.d.find_element(By.ID, "view").text,
              "the auditor sees consents but not the profile")
        b.go("#/audit", "audit")
        b.d.find_element(By.ID, "verify").click()
        b.wait(lambda: b.text("#verdict") is not None, "the chain check's verdict", 60)
        b.shot("audit")
    else:
        check(verdict.startswith(f"Broken at record {bad_seq}:"),
              f"the chain check reports the record altered, {bad_seq} (got {verdict!r})")
        b.wait(lambda: b.js("const r = document.getElementById(arguments[0]);"
                            "return !!r && r.classList.contains('highlight');", f"audit-{bad_seq}"),
               f"record {bad_seq} highlighted")
        check(b.js("return document.querySelectorAll('#audit-records tr.highlight').length") == 1,
              f"record {bad_seq}, and only it, is highlighted among the records shown")
        b.shot("audit-tampered")
    b.sign_out()


def network_checks(b):
    b.drain_logs()
    outside = [u for u in b.requests
               if not (u.startswith(b.origin + "/") or u.startswith("data:") or u.startswith("blob:"))]
    check(b.requests and not outside, f"{len(b.requests)} requests, none leaves the origin {outside}")
    check(all("ptk_" not in u for u in b.requests), "no request URL carries a token")
    docs = [h for u, h in b.documents if "/console/" in u]
    check(docs and all("default-src 'self'" in {k.lower(): v for k, v in h.items()}.get(
        "content-security-policy", "") for h in docs), "the browser got the CSP with each page")
    # A refused API request is logged by the browser too (source "network"); those are answers.
    severe = [m["message"] for m in b.console
              if m.get("level") == "SEVERE" and m.get("source") != "network"]
    check(not severe, f"no script error or CSP violation in the browser's console {severe}")
    # The policy is enforced, not only sent: an inline script put in the page does not run, and
    # the browser reports the violation.
    b.d.get(b.origin + "/console/")
    b.wait(lambda: b.view() == "signin", "the sign-in form")
    b.js("const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
         "document.body.appendChild(s);")
    time.sleep(0.2)
    check(b.js("return window.ran === undefined"), "an injected inline script does not run")
    check(any("Content Security Policy" in m["message"] for m in b.d.get_log("browser")),
          "...and the browser reports the violation")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--flag", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--phase", choices=["main", "tampered"], required=True)
    parser.add_argument("--bad-seq", type=int)
    args = parser.parse_args()
    api = Api(args.url, args.token)
    started = time.time()
    b = None
    try:
        if args.phase == "main":
            dead_task = make_customers(api, args.flag)
            check_headers(api)
        roles = {}
        for role in ("marketer", "auditor"):
            roles[role] = api.ok("POST", "/v1/tokens",
                                 {"name": f"console-{role}-{args.phase}", "role": role})["token"]
        b = Browser(args.url, args.shots)
        if args.phase == "main":
            ms = admin_checks(b, args.token, dead_task, args.flag)
            marketer_checks(b, roles["marketer"])
            auditor_checks(b, roles["auditor"], None)
            print("view times (ms, this sanitizer build): " + json.dumps(ms))
        else:
            auditor_checks(b, roles["auditor"], args.bad_seq)
        network_checks(b)
    finally:
        if b:
            b.d.quit()
    print(f"{args.phase}: {time.time() - started:.1f} s, screenshots in {args.shots}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
