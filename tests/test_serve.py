"""`hearth serve` as users meet it: the official `openai` client against a running server.

One real server process (bundled SmolLM2-135M, bundled MiniLM, a library indexed here) on a
free loopback port serves the whole module.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import wait_for
from corpus import build_corpus

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Which Roman town was destroyed by pyroclastic flows?"


def hearth(*args, data: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args), "--data-dir", str(data)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    from rag.library import Library

    root = tmp_path_factory.mktemp("serve")
    docs, data = build_corpus(root / "docs"), root / "data"
    with Library.open(data, embedder=embedder, owner="test") as lib:
        lib.index([docs])
    shown = hearth("serve", "--show-token", data=data)
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.strip()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "--json", "--data-dir", str(data)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed once the model is loaded and the port listens
    if not line:
        pytest.fail(f"hearth serve did not start: {proc.stderr.read()}")
    info = json.loads(line)
    yield {"info": info, "url": info["urls"][0], "token": token, "data": data, "docs": docs,
           "proc": proc}
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in proc.stderr.read()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server["url"], api_key=server["token"], max_retries=0)


def test_token_is_private_and_stable(server):
    path = server["data"] / "api-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == server["token"] and len(server["token"]) > 30
    assert hearth("serve", "--show-token", data=server["data"]).stdout.strip() == server["token"]


def test_listens_on_loopback_only(server):
    urls = server["info"]["urls"]
    assert urls[0].startswith("http://127.0.0.1:")
    assert all(u.startswith(("http://127.0.0.1:", "http://[::1]:")) for u in urls)


def test_models_lists_the_chat_model_and_the_embedder(client, server):
    ids = [m.id for m in client.models.list()]
    assert ids == server["info"]["models"] + [server["info"]["embedding_model"]]
    assert "SmolLM2" in ids[0] and "MiniLM" in ids[-1]


def test_streamed_chat_answers_from_the_library_with_sources(client, server):
    stream = client.chat.completions.create(
        model=server["info"]["models"][0], messages=[{"role": "user", "content": QUESTION}],
        stream=True, max_tokens=24, stream_options={"include_usage": True})
    chunks = list(stream)
    first = chunks[0].model_extra
    assert first["sources"][0]["n"] == 1
    assert Path(first["sources"][0]["path"]).name == "volcanoes.pdf"
    assert first["sources"][0]["page"] == 2 and "Pompeii" in first["sources"][0]["text"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason in ("stop", "length")
    extra = last.model_extra
    final = extra["sources"]
    assert [s["n"] for s in final] == list(range(1, len(final) + 1))
    assert Path(final[0]["path"]).name == "volcanoes.pdf"
    numbered = extra.get("evidence") or final  # what the model read, numbered as it cites
    assert all({"n", "path", "page"} <= set(e) for e in numbered)
    answer = extra["hearth"]["answer"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert cited <= {e["n"] for e in numbered}  # every [n] in the answer maps to a passage
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1


def test_non_streamed_chat_scoped_to_a_folder_or_without_retrieval(client, server):
    scoped = client.chat.completions.create(
        model="any", messages=[{"role": "user", "content": QUESTION}], max_tokens=16,
        extra_body={"hearth": {"folders": [str(server["docs"] / "more")]}})
    paths = [s["path"] for s in scoped.model_extra["sources"]]
    assert all("/more/" in p for p in paths)  # nothing from volcanoes.pdf outside the scope
    plain = client.chat.completions.create(
        model="any", messages=[{"role": "system", "content": "Answer in one word."},
                               {"role": "user", "content": "Say hello."}],
        max_tokens=8, extra_body={"hearth": {"retrieval": False}})
    assert plain.model_extra["sources"] == [] and plain.choices[0].message.content
    assert plain.usage.prompt_tokens > 0


def test_embeddings_are_the_library_embedder(client, server, embedder):
    texts = ["volcanic ash", "sourdough starter"]
    got = client.embeddings.create(model=server["info"]["embedding_model"], input=texts)
    floats = client.embeddings.create(model="x", input=texts, encoding_format="float")
    want = embedder.embed(texts)
    for resp in (got, floats):
        vecs = np.array([d.embedding for d in resp.data], dtype=np.float32)
        assert vecs.shape == (2, embedder.dim)
        np.testing.assert_allclose(vecs, want, atol=1e-4)
    assert got.usage.prompt_tokens > 0


def test_search_endpoint_gives_hybrid_hits(server):
    r = httpx.post(server["url"] + "/search", json={"query": QUESTION, "k": 3},
                   headers={"Authorization": f"Bearer {server['token']}"}, timeout=60)
    hits = r.json()["data"]
    assert r.status_code == 200 and len(hits) == 3
    assert Path(hits[0]["path"]).name == "volcanoes.pdf" and hits[0]["page"] == 2
    assert 0 < hits[-1]["score"] <= hits[0]["score"] <= 1


def test_wrong_or_missing_token_is_refused(server):
    bad = openai.OpenAI(base_url=server["url"], api_key="not-the-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.status_code == 401 and "hearth serve --show-token" in str(info.value)
    r = httpx.post(server["url"] + "/chat/completions", json={})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_malformed_requests_get_4xx_json_and_the_server_lives_on(client, server):
    auth = {"Authorization": f"Bearer {server['token']}"}
    url = server["url"]
    cases = [
        ("post", "/chat/completions", {"content": b"{not json", "headers": {
            **auth, "content-type": "application/json"}}, 400),
        ("post", "/chat/completions", {"json": {"messages": "hi"}, "headers": auth}, 400),
        ("post", "/chat/completions", {"json": {"messages": [{"role": "user", "content": "q"}],
                                                "max_tokens": -1}, "headers": auth}, 400),
        ("post", "/embeddings", {"json": {"input": [1, 2, 3]}, "headers": auth}, 400),
        ("post", "/embeddings", {"content": b"x" * 2_000_000, "headers": auth}, 413),
        ("get", "/chat/completions", {"headers": auth}, 405),
        ("get", "/nothing-here", {"headers": auth}, 404),
        ("get", "/models", {"headers": {**auth, "host": "evil.example"}}, 400),
    ]
    for method, path, kwargs, status in cases:
        r = getattr(httpx, method)(url + path, timeout=60, **kwargs)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"]["message"] and "Traceback" not in r.text
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(model="x", messages=[{"role": "assistant",
                                                             "content": "hi"}])
    assert [m.id for m in client.models.list()]  # still serving
    page = httpx.get(url + "/models", headers={**auth, "Origin": "https://site.example"})
    assert page.status_code == 200 and "access-control-allow-origin" not in page.headers  # no CORS


def test_concurrent_requests_queue_and_all_complete(client):
    answers, errors = [], []

    def ask(i: int) -> None:
        try:
            r = client.chat.completions.create(
                model="x", messages=[{"role": "user", "content": f"Say the number {i}."}],
                max_tokens=3, extra_body={"hearth": {"retrieval": False}})
            answers.append((i, r.id, r.choices[0].finish_reason))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(i for i, _, _ in answers) == list(range(8))
    assert len({rid for _, rid, _ in answers}) == 8


def test_a_client_that_disconnects_cancels_its_generation(client, server):
    auth = {"Authorization": f"Bearer {server['token']}"}
    status = httpx.get(server["url"] + "/hearth/status", headers=auth).json()
    before = status["cancelled"]
    assert status["forget_owed"] is False  # nothing was cut short in this library
    stream = client.chat.completions.create(
        model="x", stream=True, max_tokens=2000, temperature=1.5,
        messages=[{"role": "user", "content": "Write a very long story about a lighthouse."}],
        extra_body={"hearth": {"retrieval": False}})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break  # generation is running: hang up
    stream.close()
    done = wait_for(lambda: (s := httpx.get(server["url"] + "/hearth/status", headers=auth)
                             .json())["cancelled"] > before and s["pending"] == 0 and s,
                    timeout=60)
    assert done["pending"] == 0
    # Non-streamed: a client that gives up waiting (read timeout) cancels it the same way.
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server["url"] + "/chat/completions", headers=auth,
                   timeout=httpx.Timeout(60, read=1.5),
                   json={"model": "x", "max_tokens": 2000, "temperature": 1.5,
                         "messages": [{"role": "user", "content": "Tell a very long story."}],
                         "hearth": {"retrieval": False}})
    wait_for(lambda: (s := httpx.get(server["url"] + "/hearth/status", headers=auth)
                      .json())["cancelled"] > done["cancelled"] and s["pending"] == 0,
             timeout=60)


def test_non_loopback_bind_is_refused_unless_allowed(server):
    refused = hearth("serve", "--host", "0.0.0.0", "--port", "0", data=server["data"])
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Allowed, it warns and serves: tests/test_serve_remote.py (under strace, on a LAN address).


def test_the_library_can_be_indexed_while_the_server_runs(server, tmp_path):
    """The server only reads the library, so the window or `hearth index` can write it at the
    same time (one writer, readers never wait), and the server finds what was just added."""
    note = tmp_path / "gauges.txt"
    note.write_text("The quintessor gauge reads the boiler pressure in kilopascals and turns red "
                    "above 300 kPa.\n")
    added = hearth("index", note, "--json", data=server["data"])
    assert added.returncode == 0, added.stderr
    auth = {"Authorization": f"Bearer {server['token']}"}
    r = httpx.post(server["url"] + "/search", json={"query": "quintessor gauge", "k": 3},
                   headers=auth, timeout=60)
    assert r.status_code == 200 and Path(r.json()["data"][0]["path"]).name == "gauges.txt"
    status = httpx.get(server["url"] + "/hearth/status", headers=auth, timeout=30)
    assert status.status_code == 200
