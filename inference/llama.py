"""`LlamaChatModel`: the real `ChatModel`, a thin wrapper over llama-cpp-python.

Why a wrapper: Hearth needs exact prompt token counts (for the context budget) that match what
is really sent, prompt-template fallbacks for models without one, cancellation between tokens,
and timing stats for the benchmarks. The chat formatter is built once here and used both to count
and (as llama-cpp-python's chat handler) to generate, so the two can never disagree.
One owner thread per instance: llama.cpp contexts are not thread-safe.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from inference.base import ModelError
from inference.gguf_info import GGUFInfo, read_gguf_info
from rag.base.cores import physical_cores

# Logit bonus for the tokens of the passages a grounded answer must come from. Measured on the
# pdfqa-dev questions with Qwen2.5-Coder-0.5B (docs/benchmarks.md): the model copies the exact
# option or number more often instead of paraphrasing or answering from its own memory. Reading
# one passage, the key was in 14 / 14 / 14 / 12 / 19 of the written answers at a bonus of
# 0 / 2 / 3 / 4 / 6 (12 / 10 / 8 / 6 / 4 of 44 falling back): no trend, and at 4 and up the model
# garbled dates and amounts in a plain note ("20 May" for "12 May") and, from 9, copied passage
# text to answer a question the documents don't cover. So 3.
PREFER_BIAS = 3.0


@dataclass
class GenerationStats:
    """Numbers from the last `stream` call (read by benchmarks and the answer timings)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefill_s: float = 0.0
    gen_s: float = 0.0
    tokens_per_s: float = 0.0
    cancelled: bool = False
    finish_reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def gpu_offload_supported() -> bool:
    import llama_cpp

    try:
        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


class LlamaChatModel:
    """A loaded GGUF chat model. Construct through `inference.models.load_model` normally."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_gpu_layers: int = -1,
        lora_path: str | os.PathLike | None = None,
        verbose: bool = False,
        name: str | None = None,
        info: GGUFInfo | None = None,
    ) -> None:
        self.path = Path(path)
        self.info = info or read_gguf_info(self.path)
        self.name = name or self.path.stem
        self.last_stats = GenerationStats()
        if self.info.context_length:
            n_ctx = min(n_ctx, self.info.context_length)
        self.n_threads = n_threads if n_threads > 0 else physical_cores()
        self.n_gpu_layers = self._gpu_layers(n_gpu_layers, n_ctx)
        if lora_path is not None and not Path(lora_path).is_file():
            raise ModelError(f"LoRA adapter not found: {lora_path}")
        import llama_cpp

        try:
            with _native_log_captured(enabled=not verbose) as log:
                self._llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=os.cpu_count() or self.n_threads,
                    n_gpu_layers=self.n_gpu_layers,
                    lora_path=str(lora_path) if lora_path else None,
                    chat_format="chatml",  # placeholder: replaced by our own handler below
                    verbose=verbose,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            detail = _last_error_line(log.text)
            raise ModelError(
                f"llama.cpp could not load {self.path.name}: {exc}" + (f" ({detail})" if detail else "")
            ) from exc
        if lora_path is not None and not self._llm._lora_adapter:
            # llama-cpp-python 0.3.36 compares the returned pointer with None, but a failed
            # llama_adapter_lora_init gives a NULL pointer object: the load "succeeds" and the
            # first decode segfaults. Check it ourselves.
            detail = _lora_error(lambda: llama_cpp.llama_adapter_lora_init(
                self._llm._model.model, str(lora_path).encode()))
            self._llm.close()
            raise ModelError(
                f"llama.cpp could not use the LoRA adapter {Path(lora_path).name} with "
                f"{self.path.name}" + (f": {detail}" if detail else "")
            )
        self._prompt_counts: dict[tuple, int] = {}
        self.n_ctx = int(self._llm.n_ctx())
        self.lora_path = str(lora_path) if lora_path else None
        self._formatter, self.template_kind = self._make_formatter()
        from llama_cpp.llama_chat_format import chat_formatter_to_chat_completion_handler

        self._llm.chat_handler = chat_formatter_to_chat_completion_handler(self._render)

    # ---- chat template -------------------------------------------------------------------
    def _gpu_layers(self, requested: int, n_ctx: int) -> int:
        if not gpu_offload_supported():
            return 0
        if requested >= 0:
            return requested
        from inference.memory import auto_gpu_layers

        return auto_gpu_layers(self.info, n_ctx)

    def _has_token(self, text: str) -> bool:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=True)) == 1

    def _make_formatter(self):
        """The GGUF's own Jinja template if present, else a format its vocabulary supports."""
        from llama_cpp import llama_chat_format as fmt

        llm = self._llm
        template = self.info.chat_template
        if template:
            eos_id, bos_id = llm.token_eos(), llm.token_bos()
            eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
            bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
            try:
                return fmt.Jinja2ChatFormatter(
                    template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id]
                ), "gguf"
            except Exception:  # a template our Jinja sandbox can't compile: fall back
                pass
        if self._has_token("<|im_start|>"):
            return fmt.format_chatml, "chatml"
        if self._has_token("<start_of_turn>"):
            return fmt.format_gemma, "gemma"
        return _format_plain, "plain"

    def _render(self, *, messages: list[dict], **kwargs):
        """Render with the template; retry with simplified roles if the template rejects them."""
        try:
            return self._formatter(messages=messages, **kwargs)
        except Exception:
            return self._formatter(messages=_simplify_roles(messages), **kwargs)

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        """Exactly the token ids `stream` would send for these messages."""
        result = self._render(messages=messages)
        return self._llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )

    # ---- ChatModel -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt(self, messages: list[dict]) -> int:
        """Cached: fit_prompt counts the final messages, then stream() asks again."""
        key = tuple((m.get("role"), m.get("content")) for m in messages)
        n = self._prompt_counts.get(key)
        if n is None:
            if len(self._prompt_counts) > 32:
                self._prompt_counts.clear()
            n = self._prompt_counts[key] = len(self.prompt_tokens(messages))
        return n

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 512,
        temperature: float = 0.2,
        cancel=None,
        prefer: str = "",
    ) -> Iterator[str]:
        """`prefer`: text whose tokens get a logit bonus (PREFER_BIAS), so a small model copies
        the passage's exact words (options, numbers, names) instead of paraphrasing them."""
        n_prompt = self.count_prompt(messages)
        room = self.n_ctx - n_prompt
        if room < 1:
            raise ModelError(
                f"The prompt ({n_prompt} tokens) does not fit this model's context "
                f"({self.n_ctx} tokens)."
            )
        stats = self.last_stats = GenerationStats(prompt_tokens=n_prompt)
        start = time.perf_counter()
        first: float | None = None
        chunks = self._llm.create_chat_completion(
            messages=messages,
            max_tokens=max(1, min(max_tokens, room)),
            temperature=temperature,
            stream=True,
            logit_bias=self._copy_bias(prefer) if prefer else None,
        )
        pieces = 0
        aborting = self._abort_prefill(cancel)
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice.get("finish_reason"):
                    stats.finish_reason = choice["finish_reason"]
                text = choice["delta"].get("content")
                if not text:
                    continue
                if first is None:
                    first = time.perf_counter()
                    aborting = self._abort_prefill(None)  # tokens come fast: checked per token
                pieces += 1
                if cancel is not None and cancel.cancelled:
                    stats.cancelled = True
                    break
                yield text
                if cancel is not None and cancel.cancelled:
                    stats.cancelled = True
                    break
        except RuntimeError:  # llama_decode stopped by the abort check: Stop during prefill
            if not (cancel is not None and cancel.cancelled):
                raise
            stats.cancelled = True
        finally:
            if aborting:
                self._abort_prefill(None)
            chunks.close()
            end = time.perf_counter()
            generated = max(0, int(self._llm.n_tokens) - n_prompt) + (1 if pieces else 0)
            stats.completion_tokens = max(generated, pieces)
            stats.prefill_s = (first or end) - start
            stats.gen_s = end - (first or end)
            if stats.gen_s > 0 and stats.completion_tokens > 1:
                stats.tokens_per_s = (stats.completion_tokens - 1) / stats.gen_s

    def _abort_prefill(self, cancel) -> bool:  # noqa: ANN001 - a CancelToken or None
        """While the prompt is read (seconds for a long one on a CPU), llama.cpp asks this
        between steps of its computation whether to stop: Stop takes effect within a fraction
        of a second instead of after the whole prefill. None clears it (no cost per token)."""
        import llama_cpp

        if cancel is None:
            self._abort_cb = llama_cpp.ggml_abort_callback()  # a NULL callback: never asked
        else:
            self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: cancel.cancelled)
        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._abort_cb, None)
        return cancel is not None

    def reply_logprobs(self, messages: list[dict], reply: str,
                       cancel=None) -> list[tuple[str, float]]:
        """Each token of `reply` with its log-probability after `messages` (inference.scoring)."""
        from inference.scoring import reply_logprobs

        return reply_logprobs(self, messages, reply, cancel)

    def _copy_bias(self, text: str) -> dict[int, float]:
        """The tokens of `text` (and the end-of-answer tokens, so answers don't grow longer)."""
        llm = self._llm
        ids: set[int] = set()
        for variant in (text, " " + text):
            ids.update(llm.tokenize(variant.encode("utf-8"), add_bos=False, special=False))
        ids.update(t for t in (llm.token_eos(),) if t >= 0)
        for marker in ("<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>"):
            toks = llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(toks) == 1:
                ids.add(toks[0])
        return {i: PREFER_BIAS for i in ids}

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()

    def __repr__(self) -> str:
        return f"LlamaChatModel({self.name!r}, n_ctx={self.n_ctx}, template={self.template_kind})"


class _Captured:
    text = ""


@contextmanager
def _native_log_captured(enabled: bool = True):
    """Collect llama.cpp's own log lines (kept for error messages) through its log callback.

    Why the callback and not fd 2: redirecting the process's stderr would also swallow what
    other threads print while a model loads. Why at all: llama-cpp-python maps ggml's log
    levels wrongly, so with verbose=False llama.cpp's error lines would be dropped and the
    reason a model or adapter was refused would be lost.
    """
    box = _Captured()
    if not enabled:
        yield box
        return
    import ctypes

    import llama_cpp
    from llama_cpp import _logger

    lines: list[str] = []

    @llama_cpp.llama_log_callback
    def collect(_level, text, _user):
        lines.append(text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield box
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        box.text = "".join(lines)[-8000:]


def _lora_error(load) -> str:
    """Run `load` with llama.cpp's log captured; return its 'failed to apply lora' reason."""
    import llama_cpp

    with _native_log_captured() as log:
        adapter = load()
        if adapter:
            llama_cpp.llama_adapter_lora_free(adapter)
    reasons = [ln.split("failed to apply lora adapter: ")[-1].strip()
               for ln in log.text.splitlines() if "failed to apply lora adapter" in ln]
    return reasons[-1][:300] if reasons else ""


def _last_error_line(text: str) -> str:
    """The most telling line of llama.cpp's log: its last 'error', else 'failed', line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    failed = [ln for ln in lines if "failed" in ln.lower()]
    pick = (errors or failed or lines or [""])[-1]
    if "error loading model" in pick:  # "llama_model_load: error loading model: <why>"
        pick = pick.rsplit("error loading model", 1)[-1].lstrip(": ") or pick
    return pick[:300]


def _simplify_roles(messages: list[dict]) -> list[dict]:
    """Fold system text into the first user turn and merge same-role neighbours.

    Some templates (Gemma, Mistral) raise on a system role or non-alternating turns.
    """
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    out: list[dict] = []
    for m in messages:
        if m.get("role") == "system":
            continue
        role = "assistant" if m.get("role") == "assistant" else "user"
        if out and out[-1]["role"] == role:
            out[-1] = {"role": role, "content": out[-1]["content"] + "\n\n" + m["content"]}
        else:
            out.append({"role": role, "content": m["content"]})
    if system:
        if out and out[0]["role"] == "user":
            out[0] = {"role": "user", "content": system + "\n\n" + out[0]["content"]}
        else:
            out.insert(0, {"role": "user", "content": system})
    return out


def _format_plain(*, messages: list[dict], **_kwargs):
    """Fallback for models with no template and no chat tokens (base models): a transcript."""
    from llama_cpp.llama_chat_format import ChatFormatterResponse

    names = {"system": "", "user": "User: ", "assistant": "Assistant: "}
    lines = [names.get(m.get("role", "user"), "User: ") + m["content"] for m in messages]
    prompt = "\n\n".join(lines) + "\n\nAssistant:"
    return ChatFormatterResponse(prompt=prompt, stop=["\nUser:", "\n\nUser:"])
