"""`python -m bench answers`: answer quality and speed on the pdfqa-dev set (issue 11).

For each configuration (the evidence alone, each model, the default), every question runs
through the real pipeline (`rag.answering.answer.answer_stream`, as `hearth ask` does) over a library of
the four real PDF manuals. Measured per configuration:
- key in evidence: a key string is in the quoted passages (whitespace- and case-insensitive);
- key in answer: ...in the text the model wrote (fallbacks don't count; reported separately);
- right-file citations: supported claims citing a passage from the question's file;
- unanswerable declined; supported-claim rate; empty answers;
- time from question to evidence and to first token (median, p90), prompt tokens.
Trust (issue 26), because words that occur in a passage are not a right answer:
- confidently wrong: answerable questions shown as checked (model-written, no fallback, no
  decline, no claim marked unsupported) whose answer lacks every key, or shown as partly
  checked whose cited sentences lack every key: the user is misled;
- answer precision: of the dev answers shown as checked, the share that hold a key (and the
  same over checked and partly checked answers, on the sentences they cite);
- key in model input: the passages the model actually read (its prompt) hold a key;
- unanswerable declined or unconfirmed: over bench/data/unanswerable.jsonl (a measurement set:
  never tune on it alone), the share not shown as checked; its `notes` questions run over a
  second library of bench/data/notes.
The "whole chunks" baseline re-measures the previous prompt (five whole chunks) for the
before/after of prompt tokens and first-token time.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import log, percentile

REPO = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = REPO.parent / "shared" / "data" / "pdfqa-dev" / "questions.jsonl"
DEFAULT_UNANSWERABLE = REPO / "bench" / "data" / "unanswerable.jsonl"
NOTES = REPO / "bench" / "data" / "notes"


def norm(text: str) -> str:
    return "".join(text.split()).lower()


def has_key(text: str, keys: list[str]) -> bool:
    flat = norm(text)
    return any(norm(k) in flat for k in keys)


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def build_library(corpus: Path, data_dir: Path, embedder=None):
    from rag.library import Library

    lib = Library.open(data_dir, embedder=embedder)
    t0 = time.perf_counter()
    report = lib.index([corpus])
    log(f"indexed {report.count('indexed')} files in {time.perf_counter() - t0:.0f} s "
        f"({lib.status()['chunks']} chunks)")
    return lib


def run_config(lib, model, questions: list[dict], *, router=None, max_tokens: int = 512,
               notes_lib=None) -> dict:
    """Every question through the real pipeline; `notes` questions go to `notes_lib`."""
    from rag.answering.answer import answer_stream

    rows = []
    for q in questions:
        t0 = time.perf_counter()
        t_evidence = None
        final = None
        library = notes_lib if q.get("corpus") == "notes" and notes_lib is not None else lib
        for ev in answer_stream(library, model, q["question"], k=5, max_tokens=max_tokens,
                                router=router):
            if ev.kind == "evidence" and t_evidence is None:
                t_evidence = time.perf_counter() - t0
            elif ev.kind == "done":
                final = ev.answer
        rows.append(score_row(q, final, t_evidence))
    return {"summary": summarise(rows), "questions": rows}


def model_input(ans) -> str:
    """The passage text the model read (its prompt's passages; "" when it was declined before
    the model was asked): the answer can only be as right as this."""
    return ans.read


def shown_as_checked(ans) -> bool:
    """What the user reads as a verified answer: the verdict every front end shows is
    "checked" (the model wrote it, nothing replaced or declined it, every sentence backed)."""
    from rag.answering.verify import CHECKED

    return ans.verdict == CHECKED and bool(ans.answer.strip())


def vouched_text(ans) -> str:
    """The sentences shown with a citation, as checked, in an answer shown as checked or partly
    checked ("" otherwise): what the user is told to trust."""
    from rag.answering.verify import CHECKED, PARTLY

    if ans.verdict not in (CHECKED, PARTLY) or not ans.answer.strip():
        return ""
    return " ".join(c.text for c in ans.claims if c.supported)


def score_row(q: dict, ans, t_evidence: float | None) -> dict:
    """One question's outcome: where the key is (evidence, prompt, answer) and how it is shown."""
    quotes = " ".join(e.quote for e in ans.evidence)
    wrote = not ans.fallback and not ans.declined
    checked = shown_as_checked(ans)
    right = bool(q["keys"]) and has_key(ans.answer, q["keys"])
    # A partly checked answer vouches for its cited sentences: they must hold the key too.
    vouched = vouched_text(ans)
    partly = bool(vouched) and not checked
    vouched_right = bool(vouched) and bool(q["keys"]) and has_key(vouched, q["keys"])
    by_n = {e.n: e for e in ans.evidence}
    cites = [by_n[n] for c in ans.claims if c.supported for n in c.sources if n in by_n]
    right_file = [e for e in cites if q["file"] and Path(e.path).name == q["file"]]
    return {
        "id": q["id"], "answerable": q["answerable"], "model": ans.model,
        "key_in_evidence": bool(q["keys"]) and has_key(quotes, q["keys"]),
        "key_in_model_input": bool(q["keys"]) and has_key(model_input(ans), q["keys"]),
        "key_in_answer": wrote and right,
        "checked": checked, "partly": partly, "vouched": bool(vouched),
        "vouched_right": vouched_right,
        "confidently_wrong": q["answerable"] and ((checked and not right)
                                                  or (partly and not vouched_right)),
        "wrote": wrote, "fallback": bool(ans.fallback), "declined": ans.declined,
        "empty": not ans.answer.strip(),
        "claims": len(ans.claims), "supported": sum(c.supported for c in ans.claims),
        "cites": len(cites), "right_file_cites": len(right_file),
        "evidence_s": t_evidence, "first_token_s": ans.timings.get("question_to_first_token_s"),
        "prompt_tokens": ans.timings.get("prompt_tokens"), "answer": ans.answer[:300],
        "verdict": ans.verdict, "verify_s": ans.timings.get("verify_s"),
        "confirmation": ans.confirmation or None,
        # right answers the question check marked (the price of its precision)
        "right_but_unconfirmed": wrote and right and not vouched_right,
        "raw_answer": ans.raw_answer[:300],
        **{k: q[k] for k in ("type", "corpus") if k in q},
    }


def rate(part: list, of: list) -> float | None:
    return round(len(part) / len(of), 3) if of else None


def summarise(rows: list[dict]) -> dict:
    """The dev set's figures for one configuration (rates over the answerable questions)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    wrote = [r for r in answerable if r["wrote"]]
    ev_t = [r["evidence_s"] for r in rows if r["evidence_s"] is not None]
    ft = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    claims = sum(r["claims"] for r in rows)
    cites = sum(r["cites"] for r in answerable)
    checked = [r for r in rows if r["checked"]]
    vouched = [r for r in rows if r.get("vouched")]
    vt = [r["verify_s"] for r in rows if r.get("verify_s") is not None]
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "key_in_evidence": rate([r for r in answerable if r["key_in_evidence"]], answerable),
        "key_in_model_input": rate([r for r in answerable if r["key_in_model_input"]],
                                   answerable),
        "key_in_answer_written": rate([r for r in wrote if r["key_in_answer"]], wrote),
        "key_in_answer_all": rate([r for r in answerable if r["key_in_answer"]], answerable),
        "fallback_rate": rate([r for r in answerable if r["fallback"]], answerable),
        "declined_answerable": len([r for r in answerable if r["declined"]]),
        # declined: the answer says the documents don't answer it, in the model's words or
        # through the fallback ("I couldn't find an answer that your documents back up")
        "unanswerable_declined": len([r for r in unanswerable if r["declined"] or r["fallback"]]),
        "unanswerable_declined_by_model": len([r for r in unanswerable if r["declined"]]),
        "dev_unanswerable_declined_or_unconfirmed": len([r for r in unanswerable
                                                         if not r.get("vouched")]),
        "confidently_wrong": rate([r for r in answerable if r["confidently_wrong"]], answerable),
        # an unanswerable question's checked answer holds no key: it counts against precision
        "answer_precision": rate([r for r in checked if r["answerable"] and r["key_in_answer"]],
                                 checked),
        "checked_answers": len(checked),
        "checked_and_right": len([r for r in checked if r["answerable"] and r["key_in_answer"]]),
        # partly checked: the cited sentences vouched for (they must hold the key)
        "partly_checked_answers": len([r for r in rows if r.get("partly")]),
        "partly_checked_and_right": len([r for r in rows if r.get("partly")
                                         and r["answerable"] and r.get("vouched_right")]),
        # precision over every answer that vouches for a sentence (checked or partly)
        "vouched_precision": rate([r for r in vouched if r["answerable"] and r["vouched_right"]],
                                  vouched),
        "right_but_unconfirmed": len([r for r in answerable if r.get("right_but_unconfirmed")]),
        # the verdict shows this long after the last token (word checks + question check)
        "verdict_after_last_token_s_p50": round(statistics.median(vt), 3) if vt else None,
        "verdict_after_last_token_s_p90": round(percentile(vt, 90), 3) if vt else None,
        "right_file_citation_rate": round(sum(r["right_file_cites"] for r in answerable)
                                          / cites, 3) if cites else None,
        "supported_claim_rate": round(sum(r["supported"] for r in rows) / claims, 3)
        if claims else None,
        "empty_answers": len([r for r in rows if r["empty"]]),
        "evidence_s_p50": round(statistics.median(ev_t), 3) if ev_t else None,
        "evidence_s_p90": round(percentile(ev_t, 90), 3) if ev_t else None,
        "first_token_s_p50": round(statistics.median(ft), 3) if ft else None,
        "first_token_s_p90": round(percentile(ft, 90), 3) if ft else None,
        "prompt_tokens_mean": round(statistics.fmean(r["prompt_tokens"] for r in rows
                                                     if r["prompt_tokens"]), 1),
    }


def summarise_unanswerable(rows: list[dict]) -> dict:
    """The extra unanswerable set: the share not shown as checked, overall and per type."""
    ok = [r for r in rows if not r.get("vouched")]
    by_type: dict[str, str] = {}
    for t in dict.fromkeys(r.get("type", "?") for r in rows):
        of = [r for r in rows if r.get("type", "?") == t]
        by_type[t] = f"{sum(not r.get('vouched') for r in of)}/{len(of)}"
    return {"n": len(rows), "declined_or_unconfirmed": rate(ok, rows), "by_type": by_type,
            "declined": len([r for r in rows if r["declined"]]),
            "fallback": len([r for r in rows if r["fallback"]]),
            "shown_as_checked": [r["id"] for r in rows if r.get("vouched")]}


def whole_chunk_baseline(lib, model, questions: list[dict]) -> dict:
    """The previous prompt (five whole chunks): its size and time to first token."""
    from rag.answering.answer import relevant
    from rag.answering.budget import fit_prompt
    from rag.answering.prompts import build_messages

    tokens, firsts = [], []
    for q in questions:
        t0 = time.perf_counter()
        hits = relevant(lib.search(q["question"], k=5))
        plan = fit_prompt(model, lambda ns, nh, h=hits, qq=q["question"]: build_messages(
            qq, h[:ns], []), len(hits), 0, 512)
        for _ in model.stream(plan.messages, max_tokens=1, temperature=0.2):
            break
        firsts.append(time.perf_counter() - t0)
        tokens.append(plan.prompt_tokens)
    return {"n": len(questions), "prompt_tokens_mean": round(statistics.fmean(tokens), 1),
            "first_token_s_p50": round(statistics.median(firsts), 3),
            "first_token_s_p90": round(percentile(firsts, 90), 3)}


def bench_answers(corpus: str | None, questions_path: str | None = None,
                  configs: tuple[str, ...] = ("bundled", "qwen", "default"),
                  library_dir: str | None = None, baseline_n: int = 16,
                  unanswerable: str | None = None) -> dict:
    """Every configuration over the dev set and over the unanswerable set (`unanswerable`:
    its path, None for bench/data/unanswerable.jsonl, "" to skip it)."""
    from inference.model_set import ModelSet
    from inference.models import default_spec, load_model
    from inference.session import open_session, pair, routes
    from rag.base.settings import Settings

    qpath = Path(questions_path) if questions_path else DEFAULT_QUESTIONS
    if not corpus or not Path(corpus).is_dir() or not qpath.is_file():
        return {"skipped": "needs --corpus DIR with the pdfqa-dev PDFs (../shared/data/pdfqa-dev/"
                           "get-corpus.sh DIR) and its questions.jsonl"}
    questions = load_questions(qpath)
    if unanswerable is None:
        unanswerable = str(DEFAULT_UNANSWERABLE)
    extra = load_questions(Path(unanswerable)) if unanswerable else []
    tmp = tempfile.TemporaryDirectory(prefix="hearth-answers-")
    data_dir = Path(library_dir) if library_dir else Path(tmp.name) / "data"
    t0 = time.perf_counter()
    lib = build_library(Path(corpus), data_dir)
    notes_lib = None
    if any(q.get("corpus") == "notes" for q in extra):
        notes_lib = build_library(NOTES, Path(tmp.name) / "notes", embedder=lib.embedder)
    out: dict = {"questions": len(questions), "index_s": round(time.perf_counter() - t0, 1),
                 "default_model": default_spec(), "unanswerable_set": unanswerable or None,
                 "unanswerable_questions": len(extra), "configs": {}}
    settings = Settings()
    try:
        for name in configs:
            log(f"answers: {name}")
            router = None
            if name == "default" and not routes(settings) and pair() is None and \
                    default_spec() == "Qwen2.5-Coder-0.5B-Instruct" and "qwen" in out["configs"]:
                out["configs"]["default"] = {"same_as": "qwen", **out["configs"]["qwen"]}
                continue
            if name == "routed":  # the difficulty router between the two bundled models
                model = router = ModelSet(["bundled", "Qwen2.5-Coder-0.5B-Instruct"], settings,
                                          data_dir=data_dir)
            elif name == "default":  # as the app opens it: a set of models, Hearth's pair, or one
                model, router = open_session(settings, data_dir=data_dir)
            else:
                spec = {"bundled": "bundled", "qwen": "Qwen2.5-Coder-0.5B-Instruct",
                        "default": settings.model}.get(name, name)
                model = load_model(spec, settings, data_dir=data_dir)
            try:
                result = run_config(lib, model, questions, router=router)
                if extra:
                    rows = run_config(lib, model, extra, router=router,
                                      notes_lib=notes_lib)["questions"]
                    result["unanswerable_set"] = {"summary": summarise_unanswerable(rows),
                                                  "questions": rows}
                    result["summary"]["unanswerable_declined_or_unconfirmed"] = \
                        result["unanswerable_set"]["summary"]["declined_or_unconfirmed"]
                if name not in ("default", "routed") and baseline_n:
                    result["whole_chunks_baseline"] = whole_chunk_baseline(
                        lib, model, questions[:baseline_n])
            finally:
                model.close()
            out["configs"][name] = result
            log(f"answers {name}: {json.dumps(result['summary'])}")
    finally:
        lib.close()
        if notes_lib is not None:
            notes_lib.close()
        tmp.cleanup()
    return out


BEGIN = "<!-- answers:begin (generated by `python -m bench answers`) -->"
END = "<!-- answers:end -->"


def render(section: dict) -> str:
    """The answers table for docs/benchmarks.md."""
    cols = [("confidently wrong (answerable, shown as checked or partly checked, no key in "
             "what is vouched for)", "confidently_wrong", "≤ 0.10"),
            ("answer precision (checked answers holding a key)", "answer_precision", "≥ 0.90"),
            ("… with partly checked answers (their cited sentences holding a key)",
             "vouched_precision", "≥ 0.90"),
            ("answers shown as checked / of them right", ("checked_answers",
                                                          "checked_and_right"), ""),
            ("answers shown as partly checked / of them right",
             ("partly_checked_answers", "partly_checked_and_right"), ""),
            ("right answers not confirmed (the checks' price)", "right_but_unconfirmed", ""),
            ("unanswerable set declined or not confirmed", "unanswerable_declined_or_unconfirmed",
             "≥ 0.90"),
            ("dev unanswerable declined or not confirmed (of 4)",
             "dev_unanswerable_declined_or_unconfirmed", "4"),
            ("key in evidence", "key_in_evidence", "≥ 0.85"),
            ("key in model input", "key_in_model_input", "≥ 0.80"),
            ("key in answer (model-written)", "key_in_answer_written", "≥ 0.70"),
            ("key in answer (all answerable)", "key_in_answer_all", ""),
            ("fell back to evidence", "fallback_rate", "≤ 0.20"),
            ("right-file citations", "right_file_citation_rate", ""),
            ("supported claims", "supported_claim_rate", ""),
            ("unanswerable declined (of 4)", "unanswerable_declined", "4"),
            ("…declined by the model itself", "unanswerable_declined_by_model", ""),
            ("empty answers", "empty_answers", "0"),
            ("evidence shown, median / p90 s", ("evidence_s_p50", "evidence_s_p90"), "≤ 1.0"),
            ("first token, median / p90 s", ("first_token_s_p50", "first_token_s_p90"), "≤ 4"),
            ("verdict after the last token, median / p90 s",
             ("verdict_after_last_token_s_p50", "verdict_after_last_token_s_p90"), "≤ 3"),
            ("prompt tokens (mean)", "prompt_tokens_mean", "≤ ½ of before")]
    configs = section.get("configs", {})
    names = list(configs)
    out = [BEGIN, "", f"pdfqa-dev: {section.get('questions', '?')} questions over the four R "
           f"manuals; default model: {section.get('default_model', '?')}; measured "
           f"{section.get('measured_at', '')}.", "",
           "| | " + " | ".join(names) + " | target |", "|---|" + "---|" * (len(names) + 1)]
    for label, key, target in cols:
        cells = []
        for n in names:
            s = configs[n]["summary"]
            cells.append(" / ".join(str(s.get(k)) for k in key) if isinstance(key, tuple)
                         else str(s.get(key)))
        out.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    base = {n: c.get("whole_chunks_baseline") for n, c in configs.items()
            if c.get("whole_chunks_baseline")}
    if base:
        out += ["", "Before (five whole chunks in the prompt, first questions only): " + "; ".join(
            f"{n}: {b['prompt_tokens_mean']} prompt tokens, first token {b['first_token_s_p50']} "
            f"s median" for n, b in base.items()) + "."]
    misses = {n: [r["id"] for r in c["questions"] if r["answerable"] and not r["key_in_answer"]]
              for n, c in configs.items()}
    out += ["", "Answerable questions without a key in the answer: " + "; ".join(
        f"{n}: {', '.join(m) or 'none'}" for n, m in misses.items()) + "."]
    wrong = {n: [r["id"] for r in c["questions"] if r.get("confidently_wrong")]
             for n, c in configs.items()}
    out += ["", "Confidently wrong: " + "; ".join(
        f"{n}: {', '.join(m) or 'none'}" for n, m in wrong.items()) + "."]
    sets = {n: c["unanswerable_set"]["summary"] for n, c in configs.items()
            if c.get("unanswerable_set")}
    if sets:
        out += ["", f"Unanswerable set ({section.get('unanswerable_questions', '?')} questions, "
                "bench/data/unanswerable.jsonl; a measurement set, never tuned on alone), "
                "declined or not confirmed by type and the questions shown as checked: " + "; ".join(
                    f"{n}: " + ", ".join(f"{t} {v}" for t, v in s["by_type"].items())
                    + f" (checked: {', '.join(s['shown_as_checked']) or 'none'})"
                    for n, s in sets.items()) + "."]
    out += ["", END]
    return "\n".join(out)


def update_doc(section: dict, doc: Path = REPO / "docs" / "benchmarks.md") -> None:
    text = doc.read_text(encoding="utf-8")
    table = render(section)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + table + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n## Answers (pdfqa-dev, `python -m bench answers`)\n\n" + \
            table + "\n"
    doc.write_text(text, encoding="utf-8")
