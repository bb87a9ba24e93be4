"""The playground's JSON API through its ASGI app, and its command: the answers are what the command
line prints for the same input (the prompt byte for byte), Meta's token ids, findings on the line
that holds the construct, and the safety bounds (time, size, no files, 127.0.0.1, Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from llamatpl.playground.server import Settings, create_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}"
# Llama 3.0's format written out line by line, content trimmed on one line (lint rule LL110)
UNTRIMMED = "\n".join([
    "{{- bos_token }}", "{%- for message in messages %}",
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}",
    "{{- message['content'] }}", "{{- '<|eot_id|>' }}", "{%- endfor %}", "{%- if add_generation_prompt %}",
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}", "{%- endif %}"])
JSON = {"Content-Type": "application/json"}
HELLO = {"messages": [{"role": "user", "content": "Hello!"}]}
# Llama-3.1-8B-Instruct model card discussion 97 (shared/FACTS.md): official 3.1, "Hello!", 26 Jul 2024
GOLDEN_31_HELLO = [128000, 128006, 9125, 128007, 271, 38766, 1303, 33025, 2696, 25, 6790, 220, 2366, 18, 198, 15724,
                   2696, 25, 220, 1627, 10263, 220, 2366, 19, 271, 128009, 128006, 882, 128007, 271, 9906, 0, 128009,
                   128006, 78191, 128007, 271]


@pytest.fixture(scope="module")
def client():
    os.environ["LLAMATPL_MAX_SECONDS"] = "1"  # the workers read the CLI's limits: keep runaways short
    try:
        with TestClient(create_app(Settings(max_body=1 << 20)), base_url="http://127.0.0.1:8765") as c:
            yield c
    finally:
        os.environ.pop("LLAMATPL_MAX_SECONDS", None)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, cwd=cwd)


def test_render_matches_meta_golden_ids(client):
    answer = client.post("/api/render", json={"template": "official:3.1", "conversation": HELLO}).json()
    assert answer["ids"] == GOLDEN_31_HELLO
    assert "".join(answer["pieces"]) == answer["prompt"] and len(answer["pieces"]) == len(answer["ids"])
    assert answer["special"][0] and answer["pieces"][0] == "<|begin_of_text|>"


@pytest.mark.parametrize(("fixture", "template", "engine"), [
    ("tool-round-trip.json", "official:3.1", "transformers"),
    ("unicode.json", "official:3.2", "transformers"),
    ("whitespace-content.json", "tuned:3.1", "transformers"),
    ("vision-image.json", "official:3.2-vision", "transformers"),
])
def test_render_is_the_bytes_of_llamatpl_render(client, fixture, template, engine):
    path = ROOT / "fixtures" / fixture
    expected = cli("render", str(path), "--template", template, "--today", "2024-09-01", "--format", "text",
                   "--engine", engine)
    assert expected.returncode == 0, expected.stderr
    ids = json.loads(cli("render", str(path), "--template", template, "--today", "2024-09-01", "--format", "ids").stdout)
    # the editor's text is sent as it is typed: a JSON string, and the template's text, not its name
    kind, version = template.split(":")
    text = (ROOT / "templates" / kind / f"{version}.jinja").read_bytes().decode("utf-8")
    answer = client.post("/api/render", json={"template": text, "version": version,
                                              "conversation": path.read_text(encoding="utf-8"),
                                              "today": "2024-09-01", "engine": engine}).json()
    assert answer["prompt"].encode("utf-8") == expected.stdout
    assert answer["ids"] == ids and "".join(answer["pieces"]) == answer["prompt"]


@pytest.mark.parametrize("engine", __import__("llamatpl.engines", fromlist=["NAMES"]).NAMES)
def test_every_engine_renders_the_bytes_of_llamatpl_render(client, engine):
    path = ROOT / "fixtures" / "system-prompt.json"
    expected = cli("render", str(path), "--template", "official:3.2", "--today", "2024-09-01", "--format", "text",
                   "--engine", engine)
    answer = client.post("/api/render", json={"template": "official:3.2", "today": "2024-09-01", "engine": engine,
                                              "conversation": json.loads(path.read_text(encoding="utf-8"))}).json()
    assert answer["prompt"].encode("utf-8") == expected.stdout, expected.stderr


def test_unknown_keys_are_ignored_and_a_path_is_never_read(client):
    answer = client.post("/api/render", json={"template": "/etc/passwd", "conversation": HELLO, "colour": "red"}).json()
    assert answer["prompt"] == "/etc/passwd"  # a template's text, not a file of the machine


def test_mistakes_answer_one_line(client):
    bad_json = client.post("/api/render", json={"template": "official:3.1", "conversation": '{"messages": [}'})
    assert bad_json.status_code == 422 and bad_json.json() == {"error": "conversation: line 1 column 15: Expecting value"}
    raises = client.post("/api/render", json={"template": "{{ raise_exception('no system role') }}", "conversation": HELLO})
    assert raises.status_code == 422 and "no system role" in raises.json()["error"]
    assert client.post("/api/render", content=b"[1, 2]", headers=JSON).status_code == 400
    assert client.post("/api/render", content=b"{oops", headers=JSON).status_code == 400
    assert client.post("/api/render", json={"template": "3.1", "conversation": HELLO, "engine": "nope"}).status_code == 400
    assert client.post("/api/explode", json={}).status_code == 404
    for answer in (bad_json.json(), raises.json()):
        assert "\n" not in answer["error"] and "Traceback" not in answer["error"]


def test_lint_finding_is_on_the_line_that_writes_the_content(client, tmp_path):
    text = UNTRIMMED
    line = text.splitlines().index("{{- message['content'] }}") + 1  # untrimmed: 3.0's reference strips
    findings = client.post("/api/lint", json={"template": text, "version": "3.0"}).json()["findings"]
    assert {(f["code"], f["line"]) for f in findings if f["code"] == "LL110"} == {("LL110", line)}
    (tmp_path / "t.jinja").write_text(text, encoding="utf-8")
    from_cli = json.loads(cli("lint", str(tmp_path / "t.jinja"), "--version", "3.0", "--format", "json").stdout)
    rows = from_cli["findings"] if isinstance(from_cli, dict) else from_cli
    assert sorted((f["code"], f["line"]) for f in findings) == sorted((f["code"], f["line"]) for f in rows)
    assert all(f["engines"] for f in findings)


def test_verify_is_the_report_of_llamatpl_verify(client):
    answer = client.post("/api/verify", json={"template": "official:3.1", "examples": 8, "seed": 3}).json()
    expected = json.loads(cli("verify", "official:3.1", "-n", "8", "--seed", "3", "--format", "json").stdout)
    for report in (answer, expected):
        report.pop("seconds"), report.pop("timings")
    assert answer == expected
    assert client.post("/api/verify", json={"template": "3.1", "examples": 10**6}).status_code == 400


def test_diff_is_the_report_of_llamatpl_diff_plus_the_editor_conversation(client):
    answer = client.post("/api/diff", json={"template": "official:3.0", "other": "official:3.1"}).json()
    expected = json.loads(cli("diff", "official:3.0", "official:3.1", "--format", "json").stdout)
    assert answer["features"] == expected["features"]
    assert answer["conversations"] == expected["conversations"]
    with_editor = client.post("/api/diff", json={"template": "official:3.0", "other": "official:3.1",
                                                 "conversation": HELLO}).json()
    assert with_editor["conversations"][0]["name"] == "editor"
    hello = client.post("/api/render", json={"template": "official:3.1", "conversation": HELLO,
                                             "today": "2024-07-26"}).json()
    assert with_editor["b_prompt"] == hello["prompt"] and with_editor["differs"]


def test_a_runaway_template_answers_an_error_and_the_server_goes_on(client):
    started = time.monotonic()
    answer = client.post("/api/render", json={"template": RUNAWAY, "conversation": HELLO})
    assert answer.status_code == 422 and "time limit" in answer.json()["error"]
    assert time.monotonic() - started < 10
    assert client.post("/api/render", json={"template": "official:3.1", "conversation": HELLO}).json()["ids"] == GOLDEN_31_HELLO


def test_the_hard_bound_kills_a_worker_and_a_new_one_answers():
    # a per-request bound shorter than the template's own limit: the worker is killed, not waited for
    with TestClient(create_app(Settings(seconds=0.5, workers=1)), base_url="http://localhost") as c:
        answer = c.post("/api/render", json={"template": RUNAWAY, "conversation": HELLO})
        assert answer.status_code == 504 and "took too long" in answer.json()["error"]
        again = c.post("/api/render", json={"template": "{{ messages[0]['content'] }}", "conversation": HELLO})
        assert again.json()["prompt"] == "Hello!"


def test_other_sites_cannot_use_it(client):
    """A page elsewhere can POST plain text without a CORS preflight, or rebind its DNS name to
    127.0.0.1: the API answers neither."""
    body = json.dumps({"template": "3.1", "conversation": HELLO})
    assert client.post("/api/render", content=body, headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.post("/api/render", content=body, headers={**JSON, "Host": "evil.example"}).status_code == 400
    assert client.post("/api/render", content=body, headers={**JSON, "Host": "localhost:8765"}).status_code == 200


def test_bodies_over_the_limit_get_413(client):
    too_big = json.dumps({"template": "x" * (1 << 20), "conversation": HELLO}).encode()
    assert client.post("/api/render", content=too_big, headers=JSON).status_code == 413
    chunks = (b"{" if i == 0 else b" " * 65536 for i in range(20))  # streamed, no Content-Length
    assert client.post("/api/render", content=chunks, headers=JSON).status_code == 413


def test_catalog_lists_the_bundled_data_and_engines(client):
    from llamatpl.engines import NAMES
    from llamatpl.resources import bundled_names

    menus = client.get("/api/catalog").json()
    assert list(menus["templates"]) == bundled_names() and menus["engines"] == list(NAMES)
    assert "plain-chat" in menus["fixtures"]
    page = client.get("/")
    assert page.status_code == 200 and "llamatpl playground" in page.text
    assert client.get("/static/app.js").status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, *args: str, browser: bool = False) -> tuple[subprocess.Popen[str], str]:
    # BROWSER=echo: the "browser" prints the address it was asked to open, on the command's stdout
    proc = subprocess.Popen([sys.executable, "-m", "llamatpl", "playground", *args,
                             *([] if browser else ["--no-browser"])], cwd=tmp_path, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "BROWSER": "echo"})
    assert proc.stderr is not None
    lines = []
    while True:
        line = proc.stderr.readline()
        lines.append(line)
        if not line or "Ctrl-C" in line:
            return proc, "".join(lines)


def test_command_serves_writes_no_files_and_stops_on_ctrl_c(tmp_path):
    port = _free_port()
    proc, said = _start(tmp_path, "official:3.2", str(ROOT / "fixtures" / "plain-chat.json"), "--port", str(port))
    try:
        assert f"http://127.0.0.1:{port}/" in said and "warning" not in said
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/catalog") as response:
            start = json.load(response)["start"]
        assert start == {"template": "official:3.2", "conversation": json.loads((ROOT / "fixtures/plain-chat.json").read_text())}
        for kind, body in (("lint", {"template": "3.2"}), ("verify", {"template": "3.2", "examples": 3}),
                           ("render", {"template": "3.2", "conversation": HELLO})):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{kind}", method="POST",
                                             data=json.dumps(body).encode(), headers=JSON)
            with urllib.request.urlopen(request) as response:
                assert response.status == 200 and json.load(response)
        # Ctrl-C while a long verify runs: it answers 503 at once and the command exits 0, quietly
        answers: list[int] = []
        slow = threading.Thread(target=_post_status, args=(f"http://127.0.0.1:{port}/api/verify",
                                                          {"template": "tuned:3.1", "examples": 2000}, answers))
        slow.start()
        time.sleep(1.5)
    finally:
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        opened, rest = proc.communicate(timeout=20)
    slow.join(10)
    assert proc.returncode == 0 and rest == "" and time.monotonic() - stopped < 5
    assert opened == ""  # --no-browser
    assert answers == [503]
    assert list(tmp_path.iterdir()) == []


def _post_status(url: str, body: object, statuses: list[int]) -> None:
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(), headers=JSON)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            statuses.append(response.status)
    except urllib.error.HTTPError as exc:
        statuses.append(exc.code)


def test_other_hosts_need_host_and_get_a_warning(tmp_path):
    (tmp_path / "mine.jinja").write_text(UNTRIMMED, encoding="utf-8")
    port = _free_port()
    proc, said = _start(tmp_path, "mine.jinja", "--host", "127.0.0.2", "--port", str(port), browser=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/api/catalog") as response:
            assert json.load(response)["start"] == {"template": UNTRIMMED, "conversation": None}
    finally:
        proc.send_signal(signal.SIGINT)
        opened, _ = proc.communicate(timeout=20)
    assert "warning: serving on 127.0.0.2" in said and proc.returncode == 0
    assert opened.strip() == f"http://127.0.0.2:{port}/"  # the browser was opened on the page


def test_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("playground", "--no-browser", "--port", str(taken.getsockname()[1]), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.decode().count("\n") == 1 and b"cannot listen" in result.stderr


def test_without_the_extra_the_command_says_how_to_get_it():
    code = ("import sys; sys.modules['uvicorn'] = None; sys.argv = ['llamatpl', 'playground', '--no-browser']\n"
            "from llamatpl.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2 and "pip install 'llamatpl[playground]'" in result.stderr


def test_a_mistyped_bundled_name_is_an_error_not_a_one_line_template(client):
    answer = client.post("/api/render", json={"template": "official:3.9", "conversation": HELLO})
    assert answer.status_code == 422
    assert "'official:3.9' is no bundled template" in answer.json()["error"]
