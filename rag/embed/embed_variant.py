"""Which embedder a library's vectors came from, and which one it is searched with.

Why: PyTorch fp32 and ONNX fp32 give the same vectors (cosine >= 0.999, checked at build), so a
library made by either is searched by either. A quantized graph's vectors (mixed, int8) differ a
little more, each in its own way, so a library made with one is searched with that one, and one
made with fp32 with fp32: the query vector then always comes from the same family as the stored
ones (a library made before the default changed keeps the variant that made it). Choosing another by hand works, with a
notice that re-indexing re-embeds the library with it.
"""

from __future__ import annotations

import os
from pathlib import Path

from rag.embed.embed_onnx import DEFAULT_VARIANT, VARIANT_ENV, family, make_embedder

VARIANT_META = "embedder"  # manifest meta: the variant that made the library's vectors


def library_embedder(manifest, data_dir: Path):  # noqa: ANN201 - an Embedder
    """The embedder for this library: HEARTH_EMBEDDER if set; else one of the family that made
    its vectors (ONNX where it runs); else, for a new library, the default variant."""
    chosen = os.environ.get(VARIANT_ENV)
    if chosen:
        return make_embedder(chosen, data_dir=data_dir)
    made_by = manifest.get_meta(VARIANT_META)
    if made_by is None and manifest.chunk_count() > 0:
        made_by = "torch"  # indexed before the record existed
    if made_by is None or family(made_by) == family(DEFAULT_VARIANT):
        return make_embedder(DEFAULT_VARIANT, data_dir=data_dir)
    return make_embedder(f"onnx-{family(made_by)}", data_dir=data_dir)


def note_variant(made_by: str | None, embedder) -> str:  # noqa: ANN001 - an Embedder
    """A plain notice when the vectors and the queries come from different families."""
    mine = getattr(embedder, "variant", "torch")
    if made_by is None or family(made_by) == family(mine):
        return ""
    return (f"This library's vectors were made by the {made_by} embedder and searches use "
            f"{mine}: results may rank a little differently. Re-index the library (Re-index, "
            f"or `hearth index --force`) to re-embed it with {mine}.")


def record_variant(manifest, embedder) -> None:  # noqa: ANN001
    """Called when vectors are stored: the first vectors of a library name their maker."""
    if manifest.get_meta(VARIANT_META) is None:
        manifest.set_meta(VARIANT_META, getattr(embedder, "variant", "torch"))


def rerecord_after_force(manifest, embedder, report) -> bool:  # noqa: ANN001
    """A forced re-index that re-embedded every indexed document makes this embedder the
    library's maker (that is how the notice above is answered). True when it did."""
    done = {o.path for o in report.outcomes if o.status == "indexed"}
    if not all(d.path in done for d in manifest.documents("indexed")):
        return False
    manifest.set_meta(VARIANT_META, getattr(embedder, "variant", "torch"))
    return True
