"""Check the unanswerable question set (bench/data/unanswerable.jsonl) against its corpora.

    python -m bench.check_unanswerable --corpus DIR   # DIR: the four pdfqa-dev PDFs

A question can only measure "declines what the documents don't say" if the documents really
don't say it. For every question this checks, in the text of its corpus (the four R manuals via
`pdftotext`, or the notes in bench/data/notes):
- each of its `absent` terms (the decisive word, or what any right answer would have to
  contain) occurs nowhere (whole word, case-insensitive; line-break hyphens joined);
- for type `words_present`: every content word of the question occurs somewhere, but no single
  page (or note paragraph) holds them all, so the words are there and the answer is not; a
  page that does hold them all must be named in the question's `read_by_hand` (read, and found
  not to answer it).
Prints one line per question and exits 1 if any check fails. Needs poppler-utils (pdftotext).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
MANUALS = ("R-intro.pdf", "R-admin.pdf", "R-data.pdf", "R-exts.pdf")
TYPES = ("general", "near_miss", "words_present")
STOPWORDS = set("""a about after all also am an and any are as at be been before being by can
could did do does doing don't for from had has have he her his how i i'm if in into is it
its it's
many me much my no not of on one or our should so such than that the their them then there
these they this to too under up us was we were what when where which who whom whose why will
with would you your""".split())
WORD = re.compile(r"[a-z0-9][a-z0-9_.'-]*[a-z0-9]|[a-z0-9]")


def pdf_pages(path: Path) -> dict[str, str]:
    """The PDF's pages as pdftotext reads them, by label ("R-intro.pdf p.7", physical page)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return {f"{path.name} p.{i}": page for i, page in enumerate(out.split("\f"), 1)}


def note_pages(folder: Path) -> dict[str, str]:
    """Each paragraph of each note is one 'page' ("garden.txt para 2")."""
    return {f"{f.name} para {i}": p for f in sorted(folder.iterdir()) if f.is_file()
            for i, p in enumerate(f.read_text(encoding="utf-8").split("\n\n"), 1) if p.strip()}


def flat(text: str) -> str:
    """Lower case, line-break hyphens joined, whitespace collapsed."""
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text.lower())
    return " ".join(text.split())


def occurs(term: str, text: str) -> bool:
    """`term` as a whole word (or phrase) in flattened `text`; a plural s/es also counts."""
    t = re.escape(flat(term))
    left = r"(?<![a-z0-9_])" if term[:1].isalnum() else ""
    right = r"(?:s|es)?(?![a-z0-9_])" if term[-1:].isalnum() else ""
    return re.search(left + t + right, text) is not None


def content_words(question: str) -> list[str]:
    words = [w.removesuffix("'s") for w in WORD.findall(question.lower())]
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS and len(w) > 1]


def check(q: dict, pages: dict[str, str]) -> list[str]:
    """The problems with one question (empty when it passes)."""
    problems = []
    if q.get("answerable") is not False or q.get("keys") != [] or q.get("type") not in TYPES:
        problems.append("needs answerable false, keys [] and a type in " + "/".join(TYPES))
    whole = " ".join(pages.values())
    problems += [f"'{t}' occurs" for t in q.get("absent", []) if occurs(t, whole)]
    if q.get("type") != "words_present" and not q.get("absent"):
        problems.append("no absent terms")
    if q.get("type") == "words_present":
        words = content_words(q["question"])
        problems += [f"'{w}' does not occur" for w in words if not occurs(w, whole)]
        full = [label for label, p in pages.items() if all(occurs(w, p) for w in words)]
        unread = [label for label in full if label not in q.get("read_by_hand", [])]
        if unread:
            problems.append(f"{unread[:5]} hold every content word: read them by hand")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="folder with the four R manuals")
    ap.add_argument("--questions", default=str(DATA / "unanswerable.jsonl"))
    ap.add_argument("--notes", default=str(DATA / "notes"))
    args = ap.parse_args(argv)
    manuals = {k: flat(p) for name in MANUALS for k, p in pdf_pages(Path(args.corpus) / name).items()}
    notes = {k: flat(p) for k, p in note_pages(Path(args.notes)).items()}
    corpora = {"manuals": manuals, "notes": notes}
    failed = 0
    questions = [json.loads(line) for line in Path(args.questions).read_text().splitlines()
                 if line.strip()]
    for q in questions:
        problems = check(q, corpora[q["corpus"]])
        failed += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {q['id']} {q['type']:<13} {q['corpus']:<7} "
              f"{q['question']}" + "".join(f"\n       {p}" for p in problems))
    counts = {t: sum(q["type"] == t for q in questions) for t in TYPES}
    print(f"{len(questions)} questions {counts}: {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
