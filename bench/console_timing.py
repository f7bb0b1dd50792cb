#!/usr/bin/python3
"""How long each view of the web console takes to draw, measured in the browser.

Opens the console in headless Chromium (python3-selenium, chromium, chromium-driver), signs in
with --token, and opens each view --runs times; a view's time runs from the route change to the
last of its API answers drawn (console/app.js writes it to <body data-ms>). Prints the median
and the slowest per view. A figure to read, not a timed test.

usage: bench/console_timing.py --url http://127.0.0.1:7451 --token "$(cat demo/var/admin.token)"
           --customer cust-000001 [--runs 10] [--purpose service]
"""
import argparse
import statistics

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--customer", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--purpose", default="service")
    args = parser.parse_args()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        d.get(args.url.rstrip("/") + "/console/")
        d.execute_script("sessionStorage.setItem('portrait.token', arguments[0]);"
                         "sessionStorage.setItem('portrait.purpose', arguments[1]);",
                         args.token, args.purpose)
        d.refresh()
        WebDriverWait(d, 30).until(lambda _: d.execute_script("return document.body.dataset.view"))
        views = {"overview": "#/overview", "customer": "#/customer/" + args.customer,
                 "tasks": "#/tasks", "audit": "#/audit"}
        for name, fragment in views.items():
            times = []
            for _ in range(args.runs):
                d.execute_script("delete document.body.dataset.view;"
                                 "history.replaceState(null, '', arguments[0]); App.route();",
                                 fragment)
                WebDriverWait(d, 30, poll_frequency=0.01).until(
                    lambda _: d.execute_script("return document.body.dataset.view") == name)
                times.append(int(d.execute_script("return document.body.dataset.ms")))
            print(f"{name:9} median {statistics.median(times):5.0f} ms   slowest {max(times):5} ms"
                  f"   ({args.runs} runs)")
    finally:
        d.quit()


if __name__ == "__main__":
    main()
