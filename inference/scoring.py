"""Reading a model's token probabilities, without sampling: the question check's per-token
log-probabilities (rag/answering/confirm.py). It reuses the prompt already in the model's cache
and reads llama.cpp's logits rows directly."""

from __future__ import annotations

from inference.base import ModelError


def reply_logprobs(model, messages: list[dict], reply: str,  # noqa: ANN001 - LlamaChatModel
                   cancel=None) -> list[tuple[str, float]]:
    """Each token of `reply` (its text) with its log-probability as this model's answer to
    `messages` (no sampling, no copy bonus): how much the model expects that answer there.
    The prompt part already in the cache (the prompt it just answered) is not read again,
    and the reply is read in one batch with a row of logits per token (as fast as reading
    a prompt, not one decoding step per token)."""
    import llama_cpp
    import numpy as np

    llm = model._llm
    prompt = model.prompt_tokens(messages)
    reply_tokens = llm.tokenize(reply.encode("utf-8"), add_bos=False, special=False)
    if len(prompt) + len(reply_tokens) >= model.n_ctx:
        raise ModelError(f"The answer to check ({len(prompt) + len(reply_tokens)} tokens) "
                         f"does not fit {model.name}'s context ({model.n_ctx} tokens).")
    if not reply_tokens:
        return []
    cached = llama_cpp.Llama.longest_token_prefix(llm.input_ids[:llm.n_tokens].tolist(),
                                                  prompt)
    llm.n_tokens = min(cached, len(prompt) - 1)
    if llm.n_tokens < len(prompt) - 1:
        llm.eval(prompt[llm.n_tokens:-1])
    # Row i of the batch [last prompt token, reply[:-1]] predicts reply[i].
    feed = [prompt[-1], *reply_tokens[:-1]]
    n_vocab = llm.n_vocab()
    out: list[tuple[str, float]] = []
    step = max(1, int(llm.n_batch))
    for at in range(0, len(feed), step):
        if cancel is not None and cancel.cancelled:
            break
        part = feed[at:at + step]
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)  # llama-cpp-python's eval does this
        llm._batch.set_batch(batch=part, n_past=llm.n_tokens, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[llm.n_tokens:llm.n_tokens + len(part)] = part
        llm.n_tokens += len(part)
        for i in range(len(part)):
            row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, i),
                                        shape=(n_vocab,)).astype(np.float64)
            top = row.max()
            token = reply_tokens[at + i]
            piece = llm.detokenize([token]).decode("utf-8", "replace")
            out.append((piece, float(row[token] - top - np.log(np.exp(row - top).sum()))))
    return out
