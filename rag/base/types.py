"""Plain data passed between the core's stages; no behaviour, no heavy imports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """Text of one page (PDF) or of a whole file (text formats use page=None)."""

    number: int | None
    text: str


@dataclass(frozen=True)
class Section:
    """One entry of a document's outline (a PDF's bookmarks): where a heading begins."""

    page: int  # 1-based page number; 0 for a document without pages (Markdown, Word)
    level: int  # 0 = top
    title: str


@dataclass
class LoadedDocument:
    path: str
    title: str
    pages: list[Page]
    outline: list[Section] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(p.text) for p in self.pages)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder to read whole."""

    ordinal: int
    page: int | None
    start: int  # char offset within the page text
    end: int
    text: str
    heading: str = ""  # the outline's section path in effect at this chunk, for the embedder


@dataclass
class Hit:
    """One retrieved chunk with its fused score and, for explanation, its per-ranker ranks."""

    chunk_id: str
    path: str
    page: int | None
    text: str
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    doc_id: int | None = None
    start: int = 0
    end: int = 0
    similarity: float | None = None  # cosine similarity to the query, when dense ranked it

    def to_json(self) -> dict:
        return {"path": self.path, "page": self.page, "score": round(self.score, 6), "text": self.text}


@dataclass
class IndexProgress:
    """Reported after every step of indexing, so any front end can draw a progress bar."""

    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    current: str = ""
    message: str = ""
    # The whole job (rag/ingest/jobprogress.py): files are found and weighed first, then `fraction`
    # only grows; `eta_s` is None until 5% is done.
    fraction: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    stage: str = ""  # "finding files", "reading", "recognising text (OCR)", "loading the embedding
    # model", "embedding", "done" or "cancelled"
    pages_done: int = 0  # of the file being read or recognised
    pages_total: int = 0


@dataclass
class FileOutcome:
    path: str
    status: str  # "indexed" | "unchanged" | "skipped" | "failed" | "removed"
    reason: str = ""
    chunks: int = 0


@dataclass
class IndexReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def to_json(self) -> dict:
        return {
            "indexed": self.count("indexed"),
            "unchanged": self.count("unchanged"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "removed": self.count("removed"),
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "files": [
                {"path": o.path, "status": o.status, "reason": o.reason, "chunks": o.chunks}
                for o in self.outcomes
                if o.status != "unchanged"
            ],
        }
