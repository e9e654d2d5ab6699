"""Question -> retrieve -> evidence -> short prompt -> streamed answer -> verified answer.

The evidence (the passages that answer the question) is yielded before the model is even
chosen, so a user sees the exact text with file and page at once; the model then reads only
those passages, and its answer is checked against them sentence by sentence (rag.answering.verify).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace

from rag.answering.budget import fit_prompt
from rag.answering.confirm import confirm
from rag.answering.coverage import absent_names, not_mentioned_text
from rag.answering.evidence import Evidence, select_evidence
from rag.answering.prompts import (
    EMPTY_LIBRARY,
    NOT_FOUND,
    build_evidence_messages,
    passage_text,
    prompt_passages,
)
from rag.answering.verify import Claim, not_the_answer, verdict, verify
from rag.base.cancel import CancelToken
from rag.base.errors import HearthError
from rag.base.types import Hit

# What one question may ask for, the same at every door (command line, API, window).
MAX_QUESTION_CHARS = 2000  # ~500 tokens: with the passages and the answer it fits the context
MAX_K = 50  # passages retrieved for one answer
MAX_ANSWER_TOKENS = 32768
MIN_SIMILARITY = 0.25  # below this cosine, MiniLM matches are noise, not evidence
AGAIN_TOKENS = 48  # asked again, a short answer (fewer than 12 words) needs no more


@dataclass
class Source:
    n: int
    path: str
    page: int | None
    text: str
    score: float
    cited: bool = False

    def to_json(self) -> dict:
        return {"n": self.n, "path": self.path, "page": self.page, "text": self.text,
                "score": round(self.score, 6), "cited": self.cited}


@dataclass
class Answer:
    question: str
    answer: str
    sources: list[Source] = field(default_factory=list)
    model: str = ""
    route_reason: str = ""
    timings: dict = field(default_factory=dict)
    grounded: bool = True
    cancelled: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    raw_answer: str = ""  # what the model wrote, before verification
    fallback: str = ""  # why the evidence replaced the model's text ("" = it didn't)
    declined: bool = False  # the answer says the documents don't cover the question
    confirmation: dict = field(default_factory=dict)  # the question check (rag/answering/confirm.py)
    read: str = ""  # the passage text the model read (its prompt's passages)

    @property
    def verdict(self) -> str:
        """"checked", "partly checked" or "not confirmed" (rag.answering.verify.verdict)."""
        return verdict(self.claims, self.fallback, self.declined)

    def to_json(self) -> dict:
        return {"answer": self.answer, "verdict": self.verdict,
                "evidence": [e.to_json() for e in self.evidence],
                "claims": [c.to_json() for c in self.claims],
                "sources": [s.to_json() for s in self.sources],
                "model": self.model, "route_reason": self.route_reason,
                "grounded": self.grounded, "declined": self.declined, "fallback": self.fallback,
                "cancelled": self.cancelled, "raw_answer": self.raw_answer,
                "confirmation": self.confirmation, "timings": self.timings}


@dataclass
class AnswerEvent:
    kind: str  # "evidence" | "sources" | "token" | "done"
    text: str = ""
    sources: list[Source] = field(default_factory=list)
    answer: Answer | None = None
    evidence: list[Evidence] = field(default_factory=list)


def numbered_sources(hits: list[Hit], evidence: list[Evidence]) -> list[Source]:
    """One numbering everywhere: source n is evidence passage n (its page and quote), so "[n]"
    in the answer, the passages panel, the sources table, the JSON and the API is one passage of
    one page. Retrieved chunks no passage was taken from follow, numbered on."""
    out = [Source(e.n, e.path, e.page, e.quote, hits[e.hit].score) for e in evidence]
    used = {e.hit for e in evidence}
    rest = [h for i, h in enumerate(hits) if i not in used]
    out += [Source(len(out) + i, h.path, h.page, h.text, h.score) for i, h in enumerate(rest, 1)]
    return out


def question_problem(question: object, what: str = "question") -> str | None:
    """Why this cannot be asked (or searched for: `what`), in plain words; None when it can.
    Checked before any work: an empty question would run the model on nothing, a 1 MB one for
    minutes."""
    if not isinstance(question, str) or not question.strip():
        return f"The {what} is empty: type what you want to know."
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        return f"The {what} is not readable text (it holds bytes that are not UTF-8)."
    if len(question) > MAX_QUESTION_CHARS:
        return (f"The {what} is {len(question):,} characters long; Hearth takes up to "
                f"{MAX_QUESTION_CHARS:,} characters. Ask about one thing at a time.")
    return None


def relevant(hits: list[Hit], min_similarity: float = MIN_SIMILARITY) -> list[Hit]:
    """Keep hits that are real evidence: close in meaning, or keyword-matched and not far off."""
    keep = []
    for h in hits:
        sim = h.similarity if h.similarity is not None else 0.0
        if sim >= min_similarity or (h.keyword_rank is not None and h.keyword_rank <= 3
                                     and sim >= min_similarity * 0.6):
            keep.append(h)
    return keep


# The best passage's score (its sentence's similarity + keyword share + rank, plus the whole
# passage's similarity; see rag.answering.evidence) below which no passage is about the question. On
# pdfqa-dev the 44 answerable questions' best passages score 0.93-2.1 and three of the four
# unanswerable ones 0.76-0.84; 0.82 keeps a 0.1 margin below every answerable one.
WEAK_EVIDENCE = 0.82
WEAK_EVIDENCE_TEXT = (
    "None of the passages in your documents is clearly about this, so I won't guess an answer. "
    "The closest ones are shown above; add the documents that cover it, or ask in other words.")


def _chunk_counter(library):
    """The keyword index's phrase counts, where the library has one."""
    manifest = getattr(library, "manifest", None)
    counter = getattr(manifest, "term_doc_counts", None) if manifest is not None else None
    return counter if counter is not None else (lambda _phrases: {})


def cited_numbers(text: str) -> list[int]:
    nums: list[int] = []
    for m in re.finditer(r"\[([\d,;\s]+)\]", text):
        for part in re.split(r"[,;\s]+", m.group(1)):
            if part.isdigit() and int(part) not in nums:
                nums.append(int(part))
    return nums


class LoopGuard:
    """Stops a small model that starts repeating itself (135M models often echo the sources)."""

    def __init__(self, min_len: int = 12) -> None:
        self.min_len = min_len
        self.text = ""
        self._seen: dict[str, int] = {}
        self._scanned = 0
        self.cut_at: int | None = None

    def feed(self, delta: str) -> bool:
        """Add text; True once a complete line repeats a line seen before."""
        self.text += delta
        while (nl := self.text.find("\n", self._scanned)) != -1:
            line = self.text[self._scanned:nl].strip()
            start = self._scanned
            self._scanned = nl + 1
            if len(line) >= self.min_len:
                if line in self._seen:
                    self.cut_at = start
                    return True
                self._seen[line] = start
        return False

    def result(self) -> str:
        return (self.text[: self.cut_at] if self.cut_at is not None else self.text).strip()


def answer_again(model, question: str, read: list[Evidence], history: list[dict],
                 temperature: float = 0.0, cancel: CancelToken | None = None) -> str | None:
    """The model's answer over the core of the passages it read (`Evidence.core`: the best
    sentence and the two after it), for the question check to compare (confirm.same_answer);
    None when the core is all it read."""
    core = [replace(e, quote=e.core) if e.core else e for e in read]
    if all(c.quote == e.quote for c, e in zip(core, read, strict=True)):
        return None
    return "".join(model.stream(build_evidence_messages(question, core, history),
                                max_tokens=AGAIN_TOKENS, temperature=temperature,
                                cancel=cancel, prefer=passage_text(core)))


def answer_stream(library, model, question: str, *, k: int = 5,
                  paths: Sequence[str] | None = None, history: list[dict] | None = None,
                  cancel: CancelToken | None = None, max_tokens: int = 512,
                  temperature: float = 0.0,
                  router: Callable[[str, list[Hit], list[dict]], tuple[object, str]] | None = None,
                  max_passages: int = 4, checker: object | None = None,
                  ) -> Generator[AnswerEvent, None, Answer]:
    """Yield `evidence` and `sources` (before any model work), then `token` deltas, then `done`
    with the final, verified `Answer` (also returned). `checker`: the model whose likelihoods
    run the question check and its second reading (None: the writer's own; a router's `checker`
    when it names one: the check's threshold was set on the 0.5B's likelihoods)."""
    problem = question_problem(question)
    if problem:
        raise HearthError(problem)
    history = list(history or [])
    t0 = time.perf_counter()
    if library.manifest.chunk_count() == 0:
        ans = Answer(question, EMPTY_LIBRARY, grounded=False, model=getattr(model, "name", ""))
        yield AnswerEvent("token", text=EMPTY_LIBRARY)
        yield AnswerEvent("done", answer=ans)
        return ans
    # Evidence reads chunks, several of one page included: one chunk per page (right for a list
    # of sources) left the key in the evidence for 36 of the 44 dev questions instead of 39, and
    # one answer shown as checked was wrong (bench answers, Qwen-0.5B, 2026-12-07).
    hits = relevant(library.search(question, k=k, paths=paths, one_page_once=False))
    t_retrieved = time.perf_counter()
    if not hits:
        ans = Answer(question, NOT_FOUND, grounded=False, declined=True,
                     model=getattr(model, "name", ""),
                     timings={"retrieval_s": round(t_retrieved - t0, 4)})
        yield AnswerEvent("token", text=NOT_FOUND)
        yield AnswerEvent("done", answer=ans)
        return ans
    evidence = select_evidence(question, hits, library.embedder, max_passages=max_passages)
    sources = numbered_sources(hits, evidence)
    t_evidence = time.perf_counter()
    yield AnswerEvent("evidence", evidence=evidence, sources=sources)
    yield AnswerEvent("sources", sources=sources)
    missing = absent_names(question, _chunk_counter(library))
    weak = bool(evidence) and evidence[0].score < WEAK_EVIDENCE
    if missing or weak:  # nothing in the documents is about this: decline, don't guess
        text = not_mentioned_text(missing) if missing else WEAK_EVIDENCE_TEXT
        ans = Answer(question, text, sources, getattr(model, "name", ""), grounded=False,
                     evidence=evidence, declined=True,
                     timings={"retrieval_s": round(t_retrieved - t0, 4),
                              "evidence_s": round(t_evidence - t0, 4)})
        yield AnswerEvent("token", text=text)
        yield AnswerEvent("done", answer=ans)
        return ans
    route_reason = ""
    if router is not None:
        model, route_reason = router(question, hits, history)
        if checker is None:
            checker = router.checker(model) if hasattr(router, "checker") else None
    checker = model if checker is None else checker
    candidates = prompt_passages(evidence)
    plan = fit_prompt(model, lambda ns, nh: build_evidence_messages(
        question, candidates[:ns], history[-nh:] if nh else []),
        len(candidates), len(history), max_tokens)
    t_prompt = time.perf_counter()
    guard = LoopGuard()
    first_token_at = None
    cancelled = False
    # The model is nudged to copy the passages' own words (their exact options and numbers).
    prefer = passage_text(candidates[:plan.sources_used]) if plan.sources_used else ""
    for delta in model.stream(plan.messages, max_tokens=plan.answer_tokens or max_tokens,
                              temperature=temperature, cancel=cancel, prefer=prefer):
        if first_token_at is None:
            first_token_at = time.perf_counter()
        looping = guard.feed(delta)
        yield AnswerEvent("token", text=delta)
        if looping:
            break
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
    cancelled = cancelled or bool(cancel is not None and cancel.cancelled)
    t_end = time.perf_counter()
    raw = guard.result()
    raw_stats = getattr(model, "last_stats", None)  # before the check asks the model again
    stats = raw_stats.to_dict() if hasattr(raw_stats, "to_dict") else dict(raw_stats or {})
    # After Stop, the GUI's library stand-in no longer runs calls: check by words alone.
    # Checked against every passage the user sees (the model read the best few of them).
    fixed = "\n".join(m["content"] for m in plan.messages if m.get("role") == "system")
    checked = verify(raw, evidence, question, None if cancelled else library.embedder,
                     prompt_text=fixed)
    confirmation = None
    if not cancelled and any(c.supported for c in checked.claims):
        # Backed by the page's words; does it answer *this* question? (rag/answering/confirm.py)
        read = candidates[:plan.sources_used]
        said = history[-plan.history_used:] if plan.history_used else []
        # The same passages with their line breaks: a heading or a page number is a line of its own
        lines = "\n".join(hits[e.hit].text[e.start:e.end] for e in read if 0 <= e.hit < len(hits))
        confirmation = confirm(checker, plan.messages,
                               lambda q: build_evidence_messages(q, read, said), raw, question,
                               passage_text(read), cancel, page=lines,
                               again=lambda: answer_again(checker, question, read, said,
                                                          temperature, cancel))
        if confirmation is not None and not confirmation.confirmed:
            checked = not_the_answer(checked, confirmation.why, confirmation.kept)
    t_verified = time.perf_counter()
    by_n = {e.n: e for e in evidence}
    cited = {n for c in checked.claims if c.supported for n in c.sources if n in by_n}
    for s in sources:
        s.cited = s.n in cited
    first = first_token_at or t_end
    timings = {
        "retrieval_s": round(t_retrieved - t0, 4),
        "evidence_s": round(t_evidence - t0, 4),  # question -> passages shown
        "prompt_s": round(t_prompt - t_evidence, 4),
        "first_token_s": round(first - t_prompt, 4),
        "question_to_first_token_s": round(first - t0, 4),
        "generation_s": round(t_end - first, 4),
        "verify_s": round(t_verified - t_end, 4),  # words, then the question check
        **({"confirm_s": round(confirmation.seconds, 4)} if confirmation else {}),
        "total_s": round(t_verified - t0, 4),
        "prompt_tokens": plan.prompt_tokens,
        "sources_used": plan.sources_used,
        **{k2: v for k2, v in stats.items() if k2 in ("completion_tokens", "tokens_per_s")},
    }
    ans = Answer(question, checked.text, sources, getattr(model, "name", ""), route_reason, timings,
                 grounded=bool(evidence) and not checked.declined, cancelled=cancelled,
                 evidence=evidence, claims=checked.claims, raw_answer=raw,
                 fallback=checked.fallback, declined=checked.declined,
                 confirmation={**confirmation.to_json(), "checker": getattr(checker, "name", "")}
                 if confirmation else {}, read=prefer)
    yield AnswerEvent("done", answer=ans)
    return ans


def answer(library, model, question: str, **kwargs) -> Answer:
    """Run `answer_stream` to the end (for the CLI and tests)."""
    gen = answer_stream(library, model, question, **kwargs)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
