"""Check bench/data/pdfqa-more/questions.jsonl against its corpus of PDFs.

    python bench/data/pdfqa-more/check.py [--corpus DIR] [--questions FILE] [--alt]

For every question: the fields are valid and the ids unique; every key and the evidence occur
on the stated page in `pdftotext -f N -l N` output (case-insensitively, ignoring whitespace);
the keys are also looked up in pypdfium2's text of that page (what Hearth indexes) and a miss
there is reported as a warning.  For the unanswerable questions, none of their `absent` terms
occurs in any PDF of the corpus.  --alt also lists other pages of the same file where all the
keys of a question occur but that are not in its alt_pages (candidates to review by hand).
Exits 1 on any error.  Needs pdftotext (poppler-utils); pypdfium2 is optional.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"howto", "fact", "concept", "troubleshoot", "unanswerable"}
SPLITS = {"tune", "test"}
FIELDS = ["id", "file", "page", "kind", "question", "keys", "answerable", "evidence",
          "alt_pages", "split", "manual"]


def norm(s: str) -> str:
    """Lower case, no whitespace, common typographic variants folded."""
    s = s.replace("\u00ad", "").replace("\ufb01", "fi").replace("\ufb02", "fl")
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", "", s).lower()


def pdftotext_pages(pdf: Path) -> list[str]:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True,
                         text=True, errors="replace").stdout
    pages = out.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return pages


def pdfium_pages(pdf: Path) -> list[str] | None:
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    doc = pdfium.PdfDocument(str(pdf))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/corpus-more")
    ap.add_argument("--questions", default=str(HERE / "questions.jsonl"))
    ap.add_argument("--alt", action="store_true", help="list unlisted pages carrying all keys")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    qs = [json.loads(line) for line in Path(args.questions).read_text(encoding="utf-8").splitlines()
          if line.strip()]
    errors: list[str] = []
    warnings: list[str] = []
    files = sorted({q["file"] for q in qs if q.get("file")})
    text = {f: [norm(p) for p in pdftotext_pages(corpus / f)] for f in files}
    pdfium = {}
    for f in files:
        pages = pdfium_pages(corpus / f)
        if pages is not None:
            pdfium[f] = [norm(p) for p in pages]
    if not pdfium:
        warnings.append("pypdfium2 not importable: keys not checked against its text")
    all_text = "".join("".join(p) for p in text.values())
    ids = Counter(q.get("id") for q in qs)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for q in qs:
        qid = q.get("id")
        if list(q) != FIELDS + (["absent"] if "absent" in q else []):
            errors.append(f"{qid}: fields {list(q)}")
            continue
        if q["kind"] not in KINDS or q["split"] not in SPLITS or not q["question"].strip():
            errors.append(f"{qid}: bad kind/split/question")
        if not q["answerable"]:
            if q["kind"] != "unanswerable" or q["file"] is not None or q["page"] is not None \
                    or q["keys"] or q["evidence"] or q["alt_pages"] or not q.get("absent"):
                errors.append(f"{qid}: unanswerable question with answer fields or no `absent`")
            for term in q.get("absent", []):
                if norm(term) in all_text:
                    errors.append(f"{qid}: 'absent' term {term!r} occurs in the corpus")
            continue
        if q["kind"] == "unanswerable" or not q["file"] or not (1 <= len(q["keys"]) <= 3):
            errors.append(f"{qid}: bad kind/file/keys")
            continue
        pages = text[q["file"]]
        if not 1 <= q["page"] <= len(pages):
            errors.append(f"{qid}: page {q['page']} out of range")
            continue
        page = pages[q["page"] - 1]
        for key in q["keys"]:
            if norm(key) not in page:
                errors.append(f"{qid}: key {key!r} not on p{q['page']} of {q['file']} (pdftotext)")
            if q["file"] in pdfium and norm(key) not in pdfium[q["file"]][q["page"] - 1]:
                warnings.append(f"{qid}: key {key!r} not on p{q['page']} in pypdfium2 text")
        if norm(q["evidence"]) not in page:
            errors.append(f"{qid}: evidence not on p{q['page']} of {q['file']}")
        for alt in q["alt_pages"]:
            if not 1 <= alt <= len(pages) or alt == q["page"]:
                errors.append(f"{qid}: bad alt page {alt}")
        if args.alt:
            other = [i for i, p in enumerate(pages, 1) if i != q["page"] and i not in q["alt_pages"]
                     and all(norm(k) in p for k in q["keys"])]
            if other:
                print(f"alt? {qid} p{q['page']} keys {q['keys']} also on {other}")
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    ans = [q for q in qs if q["answerable"]]
    print(f"{len(qs)} questions ({len(ans)} answerable, {len(qs) - len(ans)} unanswerable), "
          f"{len(files)} PDFs; {len(errors)} errors, {len(warnings)} warnings")
    by = Counter((q["split"], q["manual"] or "-", q["kind"]) for q in qs)
    for split in sorted(SPLITS):
        for man in sorted({m for s, m, _ in by if s == split}):
            row = {k: by[(split, man, k)] for k in sorted(KINDS) if by[(split, man, k)]}
            print(f"  {split:4s} {man:10s} {sum(row.values()):3d} {row}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
