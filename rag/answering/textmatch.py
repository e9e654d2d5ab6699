"""Word-level matching shared by evidence selection and answer verification.

Why hand-rolled and tiny: both sides need the same notion of "this word is in that passage"
(content words, loose stems, identifiers such as `is.na`, `--no-same-owner`, `4095`), and it must
cost microseconds per sentence on a 2-core laptop.
"""

from __future__ import annotations

import re

from rag.store.keyword import STOPWORDS

# Identifiers first (dotted names, options, calls, numbers with separators), then plain words.
_TOKEN = re.compile(
    r"--?[A-Za-z][\w.-]*"  # --no-same-owner, -e
    r"|[A-Za-z_][\w]*(?:[.:$@][\w]+)+(?:\(\))?"  # is.na, foo::bar, x$y, var.equal
    r"|\d+(?:[.,]\d+)*"  # 4095, 10,000, 0.83
    r"|[^\W\d_]+(?:['’][^\W\d_]+)?",
    re.UNICODE,
)
EXTRA_STOP = frozenset("""
use used using get gets make makes made want need needs like one way ways also thing things say says
said tell know let lets able instead rather something anything everything someone much many way
""".split())


def tokens(text: str) -> list[str]:
    """Lower-cased word and identifier tokens, in order."""
    return [m.group(0).lower().replace("’", "'") for m in _TOKEN.finditer(text)]


def stem(word: str) -> str:
    """A crude suffix stripper: enough to match 'variances' to 'variance', 'plotting' to 'plot'."""
    if not word.isalpha() or len(word) <= 4:
        return word
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:7]


def is_identifier(token: str) -> bool:
    """Numbers, options and dotted/namespaced names: the words a right answer must copy exactly."""
    return any(c.isdigit() for c in token) or token.startswith("-") or any(
        c in token for c in ".:$@_")


def content_terms(text: str) -> list[str]:
    """Stems of the words that carry meaning (no stop words, no 1-letter words), deduplicated."""
    out: list[str] = []
    seen: set[str] = set()
    for tok in tokens(text):
        if tok in STOPWORDS or tok in EXTRA_STOP or (len(tok) < 2 and not tok.isdigit()):
            continue
        s = stem(tok) if not is_identifier(tok) else tok
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


_NAME = re.compile(r"[A-Za-z][a-z]+(?:[A-Z][a-z]+)+|[A-Za-z]+(?:[._][A-Za-z]+)+")
_NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def name_parts(text: str) -> set[str]:
    """Stems of the words inside names: `pushBack` and `read.table` say "push back" and "read
    table", so a sentence saying "you can push back lines" is backed by a page naming pushBack."""
    out: set[str] = set()
    for m in _NAME.finditer(text):
        for part in _NAME_PART.findall(m.group(0)):
            part = part.lower()
            if len(part) > 1 and part not in STOPWORDS and part not in EXTRA_STOP:
                out.add(stem(part))
    return out


# A name written as code: `princomp()` in backticks, or called as princomp(...).
_CODE_NAME = re.compile(r"`([A-Za-z_][\w.:$@-]*)(?:\(\))?`|\b([A-Za-z_][\w.]*)\(")


def identifiers(text: str) -> list[str]:
    """Numbers, options, dotted names, and names written as code (a small model invents
    plausible function names: each must be in the passage that backs the sentence)."""
    ids = [t for t in tokens(text) if is_identifier(t) and len(t) > 1]
    ids += [(m.group(1) or m.group(2)).lower() for m in _CODE_NAME.finditer(text)]
    return list(dict.fromkeys(ids))


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


_NEGATIONS = frozenset("""
not no never cannot nor without doesn't don't isn't aren't wasn't weren't won't can't didn't
shouldn't wouldn't couldn't hasn't haven't
""".split())
_NEG_SKIP = frozenset("be been being is are was were do does did have has necessarily really "
                      "always also yet even then".split())


def word_key(word: str) -> str:
    """A word's stem without a final "e": "decides" and "decide", "compiling" and "compile",
    "table" and "tables" are one word (stem() alone keeps them apart)."""
    return stem(word).rstrip("e")


def loose_terms(text: str) -> set[str]:
    """content_terms(text) matched the way word_key matches words."""
    return {t.rstrip("e") for t in content_terms(text)}


MONTHS = ("january february march april may june july august september october november "
          "december").split()


def negated_terms(text: str) -> set[str]:
    """Stems of the words a negation applies to ("does not assume" -> {"assum"})."""
    toks = tokens(text)
    out: set[str] = set()
    for i, tok in enumerate(toks):
        if tok.replace("’", "'") not in _NEGATIONS:
            continue
        for nxt in toks[i + 1:i + 4]:
            if nxt in _NEG_SKIP or nxt.endswith("ly"):
                continue
            if nxt not in STOPWORDS and not nxt.isdigit():
                out.add(word_key(nxt))
            break
    return out


def contradicts(claim: str, passage_sentence: str) -> bool:
    """The passage says "not X" where the claim says X plainly: a small model dropping a
    "not" copies almost every word, so word overlap alone would call it supported."""
    denied = negated_terms(passage_sentence)
    if not denied:
        return False
    said = {word_key(t) for t in tokens(claim) if t.isalpha()} - negated_terms(claim)
    return bool(denied & said)


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update(thirty="30", forty="40", fifty="50", sixty="60", seventy="70",
                     eighty="80", ninety="90", hundred="100", thousand="1000")
QUANTITY_REACH = 3  # a passage number counts for the unit words this close after it


def _number(tok: str) -> str | None:
    if tok[0].isdigit():
        return tok.replace(",", "")
    return _NUMBER_WORDS.get(tok)


def _unit(word: str) -> str:
    word = stem(word)
    return word[:-1] if len(word) > 3 and word.endswith("s") else word  # rows = row


def number_value(term: str) -> str | None:
    """The number a token (or a number word's stem) stands for: "five" and "5" -> "5"."""
    return _number(term) if term else None


def numbers(text: str) -> set[str]:
    """Every number `text` states, in digits, whether written as digits or as a word: an answer
    saying "5 seconds" is backed by a page saying "five seconds"."""
    return {v for v in map(_number, tokens(text)) if v is not None}


def quantities(text: str, reach: int = 1) -> set[tuple[str, str]]:
    """(number, unit) pairs: "five years" -> ("5", "year"). With `reach` > 1 a number pairs with
    each of the next few content words ("between 1.0 and 1.5 bar" gives ("1.0", "bar") too), so
    a claim's quantity is checked against what the passage could mean, not its exact phrasing."""
    toks = tokens(text)
    out: set[tuple[str, str]] = set()
    for i, tok in enumerate(toks):
        value = _number(tok)
        if value is None:
            continue
        seen = 0
        for nxt in toks[i + 1:]:
            if nxt in STOPWORDS or nxt in _NEGATIONS or _number(nxt) is not None:
                if reach == 1:
                    break
                continue  # "1.0 and 1.5 bar": the unit comes after the second number
            if not nxt.isalpha() or seen >= reach:
                break
            out.add((value, _unit(nxt)))
            seen += 1
    return out
