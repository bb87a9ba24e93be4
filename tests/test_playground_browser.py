"""The playground in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium; ``.ci/run`` installs them) types a template and a conversation into the page, and
the prompt shown is ``llamatpl render``'s bytes, a lint finding marks its line, and a runaway template
shows an error while the page goes on working. It saves a screenshot (``LLAMATPL_SCREENSHOT=path``
keeps a copy, as docs/playground.png was made)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("starlette")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
    pytest.skip("no Chromium here: install Debian's chromium and chromium-driver (.ci/run does)",
                allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

TEMPLATE = "\n".join([  # Llama 3.0's format, content NOT trimmed on line 4 (LL110: the 3.0 reference strips)
    "{{- bos_token }}",
    "{%- for message in messages %}",
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}",
    "{{- message['content'] }}",
    "{{- '<|eot_id|>' }}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}",
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}",
    "{%- endif %}",
])
TRIM_LINE = 4
CONVERSATION = ('{"messages": [{"role": "system", "content": "Be brief. "}, '
                '{"role": "user", "content": "  Caf\\u00e9  au lait?\\n\\twith\\ttabs "}]}')
RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}"  # never grows: only time stops it


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LLAMATPL_MAX_SECONDS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "llamatpl", "playground", "--no-browser", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    while (line := proc.stderr.readline()) and "Ctrl-C" not in line:
        pass
    yield f"http://127.0.0.1:{port}/"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="llamatpl-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _type(driver, element_id: str, text: str) -> None:
    area = driver.find_element(By.ID, element_id)
    area.clear()
    area.send_keys(text)


def _shown(driver) -> str:
    return driver.execute_script("return document.getElementById('prompt').textContent")


def test_the_page_renders_lints_and_survives_a_runaway(server, browser, tmp_path):
    (tmp_path / "t.jinja").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "c.json").write_text(CONVERSATION, encoding="utf-8")
    args = ["render", str(tmp_path / "c.json"), "--template", str(tmp_path / "t.jinja"), "--today", "2024-07-26"]
    expected = subprocess.run([sys.executable, "-m", "llamatpl", *args, "--format", "text"],
                              capture_output=True, check=True).stdout.decode("utf-8")
    ids = json.loads(subprocess.run([sys.executable, "-m", "llamatpl", *args, "--format", "ids"],
                                    capture_output=True, check=True).stdout)
    wait = WebDriverWait(browser, 30)

    browser.get(server)
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    Select(browser.find_element(By.ID, "template-menu")).select_by_visible_text("blank")
    Select(browser.find_element(By.ID, "version")).select_by_value("auto")
    browser.execute_script("const t = document.getElementById('today'); t.value = '2024-07-26';"
                           "t.dispatchEvent(new Event('change'));")
    _type(browser, "template", TEMPLATE)
    _type(browser, "conversation", CONVERSATION)
    wait.until(lambda d: _shown(d) == expected)
    assert browser.find_element(By.ID, "count").text == f"{len(ids)} tokens"
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    # whitespace is visible and every token is its own element (hover: id and text)
    tokens = browser.find_elements(By.CSS_SELECTOR, "#prompt .tok")
    assert [int(t.get_attribute("data-id")) for t in tokens] == ids
    assert browser.find_elements(By.CSS_SELECTOR, "#prompt .ws.tab") and browser.find_elements(By.CSS_SELECTOR, "#prompt .tok.special")

    # the lint finding is listed, and marked in the gutter on its template line
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#findings li[data-code='LL110']"))
    finding = browser.find_element(By.CSS_SELECTOR, "#findings li[data-code='LL110']")
    assert finding.get_attribute("data-line") == str(TRIM_LINE)
    marked = browser.find_element(By.CSS_SELECTOR, f"#gutter .ln[data-line='{TRIM_LINE}']")
    assert "warning" in marked.get_attribute("class") and "LL110" in marked.get_attribute("title")

    # a runaway template: an error, and the page still works afterwards
    _type(browser, "template", RUNAWAY)
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "time limit" in browser.find_element(By.ID, "error").text
    _type(browser, "template", "{{ messages[1]['content'] }}")
    wait.until(lambda d: _shown(d) == "  Café  au lait?\n\twith\ttabs ")
    assert not browser.find_element(By.ID, "error").is_displayed()

    # a bundled template, a fixture and a diff against another template, for the screenshot
    Select(browser.find_element(By.ID, "template-menu")).select_by_visible_text("official:3.1")
    Select(browser.find_element(By.ID, "fixture-menu")).select_by_visible_text("tool-round-trip")
    wait.until(lambda d: "get_weather" in _shown(d))
    Select(browser.find_element(By.ID, "diff-other")).select_by_visible_text("official:3.2")
    browser.find_element(By.ID, "diff-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#diff-out .sides"))
    # verify finds the official template's known fault; its counterexample loads with one click
    browser.find_element(By.ID, "verify-btn").click()
    load = wait.until(lambda d: d.find_elements(By.ID, "load-counterexample"))[0]
    counterexample = json.loads(browser.find_element(By.CSS_SELECTOR, "#verify-out pre").text)
    load.click()
    wait.until(lambda d: json.loads(d.find_element(By.ID, "conversation").get_attribute("value")) == counterexample)
    wait.until(lambda d: not d.find_element(By.ID, "prompt").get_attribute("class").count("stale")
               and d.execute_script("return document.getElementById('status').textContent") == "")
    shot = tmp_path / "playground.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("LLAMATPL_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["LLAMATPL_SCREENSHOT"])
