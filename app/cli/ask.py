"""`hearth ask`: one question (evidence first, then the streamed, verified answer), or many with
`--questions FILE` (one model load, JSON lines) so answer quality can be measured in one process.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path


def add_parser(sub, common) -> None:
    p = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    p.add_argument("question", nargs="?")
    p.add_argument("--questions", metavar="FILE",
                   help="many questions, one per line or JSONL ({\"id\", \"question\"}); with "
                        "--json prints one answer object per line")
    p.add_argument("--model", default=None, help="model name or .gguf path (default: settings)")
    from app.cli.inputs import bounded
    from rag.answering.answer import MAX_ANSWER_TOKENS, MAX_K

    p.add_argument("-k", type=bounded(int, 1, MAX_K, "-k"), default=None,
                   help="sources to retrieve")
    p.add_argument("--in", dest="scope", action="append", metavar="PATH")
    p.add_argument("--max-tokens", type=bounded(int, 1, MAX_ANSWER_TOKENS, "--max-tokens"),
                   default=None)
    p.add_argument("--temperature", type=bounded(float, 0.0, 2.0, "--temperature"),
                   default=None)
    p.set_defaults(func=cmd_ask)


def _load(args, lib, settings):
    from inference.session import open_session

    warm = threading.Thread(target=getattr(lib.embedder, "load", lambda: None), daemon=True)
    warm.start()  # the embedder loads while the chat model does
    try:
        return open_session(settings, data_dir=lib.data_dir, pinned=args.model)
    finally:
        # Joined on failure too: exiting while ONNX Runtime builds a session on a daemon
        # thread aborted the process ("terminate called", exit -6) instead of exit 1.
        warm.join()


def cmd_ask(args) -> int:
    from app.cli.inputs import inputs_problem, read_queries
    from app.cli.library import open_library
    from app.cli.output import emit, fail
    from rag.answering.answer import answer_stream, question_problem
    from rag.base.errors import HearthError
    from rag.base.settings import Settings

    if problem := inputs_problem(args, "question", "questions"):
        return fail(args, problem, 2)
    scope = args.scope or None
    try:  # a questions file reads like `search --queries` (plain lines, or JSONL with an id)
        questions = read_queries(args.questions) if args.questions else [("1", args.question)]
    except HearthError as exc:
        return fail(args, str(exc), 2)
    for qid, question in questions:
        if problem := question_problem(question):
            return fail(args, problem if not args.questions
                        else f"{args.questions}, question {qid}: {problem}", 2)
    with open_library(args, "ask") as lib:
        settings = Settings.load(lib.data_dir)
        model, router = _load(args, lib, settings)
        try:
            for qid, question in questions:
                gen = answer_stream(
                    lib, model, question, k=args.k or settings.top_k_sources, paths=scope,
                    max_tokens=args.max_tokens or settings.max_answer_tokens,
                    temperature=settings.temperature if args.temperature is None
                    else args.temperature, router=router)
                final = _consume(gen, stream=not args.json and not args.questions)
                if args.questions:
                    _emit_line(args, qid, question, final)
                elif args.json:
                    emit(args, final.to_json())
                else:
                    _print_footer(final)
        finally:
            model.close()
    return 0


def _consume(gen, stream: bool):
    final = None
    for event in gen:
        if not stream:
            if event.kind == "done":
                final = event.answer
            continue
        if event.kind == "evidence" and event.evidence:
            sys.stdout.write("From your documents:\n")
            for e in event.evidence:
                sys.stdout.write(f"  [{e.n}] \u201c{e.quote}\u201d \u2014 {_where(e)}\n")
            sys.stdout.write("\nAnswer: ")
        elif event.kind == "token":
            sys.stdout.write(event.text)
        elif event.kind == "done":
            final = event.answer
        sys.stdout.flush()
    return final


def _where(item) -> str:
    return Path(item.path).name + (f", page {item.page}" if item.page else "")


def _emit_line(args, qid: str, question: str, final) -> None:
    if args.json:
        row = {"id": qid, "question": question, **final.to_json()}
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(f"{qid}\t{question[:60]}\t{final.answer[:200]!r}\n")
    sys.stdout.flush()


def _print_footer(final) -> None:
    sys.stdout.write("\n")
    if final.answer.strip() != final.raw_answer.strip():
        sys.stdout.write(f"\nChecked answer: {final.answer}\n")
    for c in final.claims:
        if not c.supported:
            sys.stdout.write(f"  ({c.mark}: \u201c{c.text}\u201d)\n")
    from rag.answering.verify import VERDICT_NOTES

    sys.stdout.write(VERDICT_NOTES[final.verdict] + "\n")
    used = {n for c in final.claims if c.supported for n in c.sources}
    for e in final.evidence:
        page = f", page {e.page}" if e.page else ""
        print(f"[{e.n}] {e.path}{page}" + ("" if e.n in used else " (shown, not cited)"))
    if not final.evidence:
        for s in final.sources:
            print(f"[{s.n}] {s.path}" + (f", page {s.page}" if s.page else ""))
