"""The server's model owner thread and request parsing, without sockets (fast).

Jobs here are real functions run by the real `ModelOwner`; what a job does (answer, embed) is
covered against a running server in test_serve.py.
"""

from __future__ import annotations

import threading

import pytest

from app.serve_api import parse_chat, parse_embeddings, parse_search
from app.serve_engine import ModelOwner, RequestError, ServerBusy
from rag.base.cancel import CancelToken
from rag.base.settings import Settings


class Collect:
    """A sink that records (kind, value) and signals when its job has ended."""

    def __init__(self) -> None:
        self.items: list = []
        self.end = ""
        self.error: BaseException | None = None
        self.done = threading.Event()

    def __call__(self, kind: str, value) -> None:
        if kind == "item":
            self.items.append(value)
            return
        self.end, self.error = kind, value
        self.done.set()


def test_jobs_run_one_at_a_time_on_one_thread_in_arrival_order():
    owner = ModelOwner(max_pending=50)
    threads, order, sinks = set(), [], []
    for i in range(20):
        def work(_cancel, i=i):
            threads.add(threading.current_thread().name)
            order.append(i)
            yield i * i
        sinks.append(Collect())
        owner.submit(work, sinks[-1], CancelToken())
    for s in sinks:
        assert s.done.wait(10)
    assert order == list(range(20))
    assert [s.items for s in sinks] == [[i * i] for i in range(20)]
    assert {s.end for s in sinks} == {"end"}
    assert threads == {"hearth-serve-model"}
    assert owner.completed == 20 and owner.pending == 0
    owner.close()


def test_full_queue_is_busy_and_a_cancelled_waiting_job_is_skipped():
    owner = ModelOwner(max_pending=2)
    release, started = threading.Event(), threading.Event()
    ran = []

    def blocking(_cancel):
        started.set()
        release.wait(10)
        yield "first"

    def second(_cancel):
        ran.append("second")
        yield "second"

    a, b = Collect(), Collect()
    owner.submit(blocking, a, CancelToken())
    assert started.wait(10)
    token = CancelToken()
    owner.submit(second, b, token)
    with pytest.raises(ServerBusy, match="already waiting"):
        owner.submit(second, Collect(), CancelToken())
    token.cancel()  # its client went away while it waited
    release.set()
    assert a.done.wait(10) and b.done.wait(10)
    assert (a.end, a.items) == ("end", ["first"])
    assert (b.end, ran) == ("cancelled", [])
    assert owner.cancelled == 1
    owner.close()


def test_a_failing_job_reports_to_its_client_and_the_owner_carries_on():
    owner = ModelOwner()

    def broken(_cancel):
        yield "partial"
        raise RequestError("too long for the context")

    bad, good = Collect(), Collect()
    owner.submit(broken, bad, CancelToken())
    owner.submit(lambda _c: iter(["fine"]), good, CancelToken())
    assert bad.done.wait(10) and good.done.wait(10)
    assert bad.end == "error" and "too long" in str(bad.error) and bad.items == ["partial"]
    assert (good.end, good.items) == ("end", ["fine"])
    closed_on = []
    owner.close(final=lambda: closed_on.append(threading.current_thread().name))
    assert closed_on == ["hearth-serve-model"]  # the model is closed by the thread that owns it
    with pytest.raises(ServerBusy, match="shutting down"):
        owner.submit(lambda _c: iter(()), Collect(), CancelToken())


def test_call_returns_the_value_computed_on_the_owner_thread():
    owner = ModelOwner()
    assert owner.call(lambda: threading.current_thread().name) == "hearth-serve-model"
    with pytest.raises(ZeroDivisionError):
        owner.call(lambda: 1 / 0)
    owner.close()


def test_chat_requests_are_validated_in_plain_words(tmp_path):
    s = Settings()
    req = parse_chat({"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text",
                                                                            "text": "X?"}]}],
        "max_tokens": 7, "stream": True, "hearth": {"folders": [str(tmp_path)], "k": 3}}, s)
    assert (req.question, req.max_tokens, req.k, req.stream) == ("What is X?", 7, 3, True)
    assert req.history == [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "hello"}]
    assert req.folders == [str(tmp_path)] and req.retrieval is True
    assert parse_chat({"messages": [{"role": "user", "content": "q"}]}, s).max_tokens \
        == s.max_answer_tokens
    bad = [
        ([], "JSON object"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role must be"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "last message"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "only text"),
        ({"messages": [{"role": "user", "content": "q"}], "max_tokens": "9"}, "integer"),
        ({"messages": [{"role": "user", "content": "q"}], "max_tokens": 0}, "between"),
        ({"messages": [{"role": "user", "content": "q"}], "temperature": 9}, "between"),
        ({"messages": [{"role": "user", "content": "q"}], "n": 2}, "n=1"),
        ({"messages": [{"role": "user", "content": "q"}], "hearth": {"retrieval": "no"}},
         "true or false"),
        ({"messages": [{"role": "user", "content": "q"}],
          "hearth": {"folders": [str(tmp_path / "nope")]}}, "No such file"),
    ]
    for body, words in bad:
        with pytest.raises(RequestError, match=words) as info:
            parse_chat(body, s)
        assert info.value.status == 400


def test_embedding_and_search_requests_are_validated():
    assert parse_embeddings({"input": "one"}) == (["one"], "float")
    assert parse_embeddings({"input": ["a", "b"], "encoding_format": "base64"}) == \
        (["a", "b"], "base64")
    for body in ({"input": [1, 2]}, {"input": ""}, {"input": "x", "encoding_format": "hex"},
                 {"input": ["x"] * 1000}, "text"):
        with pytest.raises(RequestError):
            parse_embeddings(body)
    assert parse_search({"query": "q", "k": 3}) == ("q", 3, None)
    for body in ({"query": ""}, {"query": "q", "k": 0}, {"query": "q", "folders": "x"}, None):
        with pytest.raises(RequestError):
            parse_search(body)


def test_the_cli_registers_serve_without_loading_the_server_stack():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys, app.cli; p = app.cli.build_parser(); "
            "a = p.parse_args(['serve', '--port', '0']); assert a.func.__name__ == 'cmd_serve'; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'anyio', 'httpx', 'asyncio') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"
