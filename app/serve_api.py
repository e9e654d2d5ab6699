"""OpenAI-shaped requests in, Hearth jobs out: validation and the work each endpoint does.

Why separate from the HTTP layer: parsing is plain Python (testable without a socket), and the
jobs run on the model owner thread (`app.serve_engine.ModelOwner`), never on the event loop.
A request with anything Hearth cannot honour gets a `RequestError` with plain words, which the
HTTP layer turns into a 4xx JSON error.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.serve_engine import RequestError
from rag.answering.answer import MAX_ANSWER_TOKENS as MAX_TOKENS_LIMIT  # one limit at every door
from rag.answering.answer import MAX_K, question_problem
from rag.base.cancel import CancelToken

MAX_EMBED_INPUTS = 512
ROLES = ("system", "developer", "user", "assistant")


@dataclass
class ChatRequest:
    messages: list[dict]  # normalised: role + string content
    question: str  # the last user message
    history: list[dict] = field(default_factory=list)  # earlier user/assistant turns
    stream: bool = False
    include_usage: bool = False
    max_tokens: int = 512
    temperature: float = 0.2
    retrieval: bool = True
    folders: list[str] | None = None
    k: int = 5


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise RequestError(f"{where}: only text content is supported.")
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    if content is None:
        return ""
    raise RequestError(f"{where}: content must be a string or a list of text parts.")


def _number(body: dict, key: str, default: float, lo: float, hi: float, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            (kind is int and not float(value).is_integer()):
        raise RequestError(f"'{key}' must be {'an integer' if kind is int else 'a number'}.")
    if not lo <= value <= hi:
        raise RequestError(f"'{key}' must be between {lo:g} and {hi:g}.")
    return kind(value)


def parse_chat(body: Any, settings) -> ChatRequest:
    """Validate a /v1/chat/completions body; Hearth's own options live under "hearth"."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RequestError("'messages' must be a non-empty list.")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise RequestError(f"messages[{i}]: role must be one of {', '.join(ROLES)}.")
        role = "system" if m["role"] == "developer" else m["role"]
        messages.append({"role": role, "content": _text_of(m.get("content"), f"messages[{i}]")})
    if messages[-1]["role"] != "user" or not messages[-1]["content"].strip():
        raise RequestError("The last message must be a non-empty user message.")
    if problem := question_problem(messages[-1]["content"]):
        raise RequestError(problem)
    if body.get("n", 1) != 1:
        raise RequestError("Only n=1 is supported.")
    opts = body.get("hearth") or {}
    if not isinstance(opts, dict):
        raise RequestError("'hearth' must be an object like {\"retrieval\": false}.")
    retrieval = opts.get("retrieval", True)
    if not isinstance(retrieval, bool):
        raise RequestError("'hearth.retrieval' must be true or false.")
    folders = opts.get("folders")
    if folders is not None:
        if not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders):
            raise RequestError("'hearth.folders' must be a list of paths.")
        missing = [f for f in folders if not os.path.exists(f)]
        if missing:
            raise RequestError("No such file or folder: " + ", ".join(missing))
    stream_opts = body.get("stream_options") or {}
    max_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    return ChatRequest(
        messages=messages,
        question=messages[-1]["content"],
        history=[m for m in messages[:-1] if m["role"] in ("user", "assistant")],
        stream=bool(body.get("stream", False)),
        include_usage=bool(isinstance(stream_opts, dict) and stream_opts.get("include_usage")),
        max_tokens=_number(body, max_key, settings.max_answer_tokens, 1, MAX_TOKENS_LIMIT, int),
        temperature=_number(body, "temperature", settings.temperature, 0.0, 2.0, float),
        retrieval=retrieval,
        folders=folders or None,
        k=_number(opts, "k", settings.top_k_sources, 1, MAX_K, int),
    )


def parse_embeddings(body: Any) -> tuple[list[str], str]:
    """(texts, encoding_format) from a /v1/embeddings body."""
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise RequestError("'input' must be a string or a list of strings "
                           "(token arrays are not supported).")
    if len(texts) > MAX_EMBED_INPUTS:
        raise RequestError(f"At most {MAX_EMBED_INPUTS} inputs per request.")
    if any(not t.strip() for t in texts):
        raise RequestError("'input' must not contain empty strings.")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise RequestError("'encoding_format' must be 'float' or 'base64'.")
    return texts, fmt


def parse_search(body: Any) -> tuple[str, int, list[str] | None]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) \
            or not body["query"].strip():
        raise RequestError("Give a JSON object with a non-empty 'query' string.")
    folders = body.get("folders")
    if folders is not None and (not isinstance(folders, list)
                                or not all(isinstance(f, str) for f in folders)):
        raise RequestError("'folders' must be a list of paths.")
    missing = [f for f in folders or [] if not os.path.exists(f)]
    if missing:
        raise RequestError("No such file or folder: " + ", ".join(missing))
    return body["query"], _number(body, "k", 5, 1, MAX_K, int), folders or None


# -- jobs: each runs on the model owner thread and yields (kind, value) ---------------------------
def answer_job(engine, req: ChatRequest):
    """Retrieval on: `rag.answering.answer.answer_stream`, exactly as `hearth ask` runs it."""

    def work(cancel: CancelToken) -> Iterator[tuple[str, Any]]:
        from rag.answering.answer import answer_stream

        model, router = engine.chat_model()
        evidence = None
        for ev in answer_stream(engine.library(cancel), model, req.question, k=req.k,
                                paths=req.folders, history=req.history or None, cancel=cancel,
                                max_tokens=req.max_tokens, temperature=req.temperature,
                                router=router):
            if ev.kind == "evidence":  # the passages the model will read, with file and page
                evidence = [e.to_json() for e in getattr(ev, "evidence", None) or []]
            elif ev.kind == "sources":
                first = {"sources": [s.to_json() for s in ev.sources]}
                yield "sources", first if evidence is None else {**first, "evidence": evidence}
            elif ev.kind == "token":
                yield "token", ev.text
            elif ev.kind == "done" and ev.answer is not None:
                yield "done", ev.answer.to_json()
            # other kinds carry nothing a chat client reads mid-stream

    return work


def chat_job(engine, req: ChatRequest):
    """Retrieval off: the client's messages go to the model as they are."""

    def work(cancel: CancelToken) -> Iterator[tuple[str, Any]]:
        model, router = engine.chat_model()
        if router is not None:
            model, _ = router(req.question, [], req.history)
        n_prompt = model.count_prompt(req.messages)
        room = model.n_ctx - n_prompt
        if room < 1:
            raise RequestError(f"The messages ({n_prompt} tokens) do not fit the model's "
                               f"context ({model.n_ctx} tokens).")
        yield "sources", {"sources": []}
        parts = []
        for delta in model.stream(req.messages, max_tokens=min(req.max_tokens, room),
                                  temperature=req.temperature, cancel=cancel):
            parts.append(delta)
            yield "token", delta
        stats = getattr(model, "last_stats", None)
        yield "done", {"answer": "".join(parts), "sources": [], "model": model.name,
                       "grounded": False, "cancelled": cancel.cancelled,
                       "timings": {"prompt_tokens": n_prompt, "completion_tokens":
                                   int(getattr(stats, "completion_tokens", 0) or len(parts))}}

    return work


def embed_job(engine, texts: list[str], fmt: str):
    def work(cancel: CancelToken) -> Iterator[tuple[str, Any]]:
        import numpy as np

        embedder = engine.library(cancel).embedder
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        tokens = sum(int(embedder.count_tokens(t)) for t in texts)
        data = [{"object": "embedding", "index": i,
                 "embedding": (base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")
                               if fmt == "base64" else [float(x) for x in v])}
                for i, v in enumerate(vectors)]
        yield "result", {"object": "list", "data": data, "model": engine.embedding_model,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return work


def search_job(engine, query: str, k: int, folders: list[str] | None):
    def work(cancel: CancelToken) -> Iterator[tuple[str, Any]]:
        hits = engine.library(cancel).search(query, k=k, paths=folders)
        yield "result", {"object": "list", "query": query,
                         "data": [{"rank": i, **h.to_json()} for i, h in enumerate(hits, 1)]}

    return work


def finish_reason(answer: dict, max_tokens: int) -> str:
    used = int((answer.get("timings") or {}).get("completion_tokens") or 0)
    return "length" if used >= max_tokens else "stop"


def usage(answer: dict) -> dict:
    t = answer.get("timings") or {}
    prompt, completion = int(t.get("prompt_tokens") or 0), int(t.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def extras(answer: dict) -> dict:
    """Hearth's extra response fields: sources (always), evidence and claims when present, and
    under "hearth" the checked answer text (a stream carries the model's raw words; the answer
    is verified against the evidence afterwards and may correct its citations)."""
    out = {"sources": answer.get("sources", [])}
    for key in ("evidence", "claims"):
        if key in answer:
            out[key] = answer[key]
    out["hearth"] = {k: answer[k] for k in ("answer", "verdict", "confirmation", "grounded",
                                            "declined", "route_reason", "cancelled", "timings")
                     if k in answer}
    return out
