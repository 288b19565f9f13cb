"""Trains the built-in demo model and exports it as F16 GGUF with everything the CI check needs.

Run with Debian's interpreter, which has python3-torch and python3-sentencepiece:
    /usr/bin/python3 tools/model/train.py            # ~25 CPU-minutes on one thread
Outputs in models/: the GGUF, its held-out text, a JSON record (checksum, held-out loss, greedy
continuations) and the training log. Fixed seeds and step count make the run reproducible on the
same torch build and thread count.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402
from gguf_writer import write_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402

NAME = "tiny-wordnet"
HELD_OUT_ENTRIES = 100
PROMPTS = ["dog (noun):", "happy (adjective):", "swim (verb):", "quickly (adverb):", "music (noun):"]
CONTINUATION_TOKENS = 24
UNK, BOS, EOS = 0, 1, 2


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../models"))
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1234)
    return parser.parse_args()


class Log:
    def __init__(self, path):
        self.handle = open(path, "w", encoding="utf-8")

    def __call__(self, message):
        print(message, flush=True)
        self.handle.write(message + "\n")
        self.handle.flush()


def train_tokenizer(train_texts, workdir, vocab_size):
    text_path = os.path.join(workdir, "tokenizer-corpus.txt")
    with open(text_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(train_texts) + "\n")
    prefix = os.path.join(workdir, "tokenizer")
    # Identity normalisation, no dummy prefix and kept whitespace: llama.cpp's SPM tokenizer does
    # none of these, so only then do both sides produce the same ids.
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, add_dummy_prefix=False, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=True, character_coverage=0.9995,
        unk_id=UNK, bos_id=BOS, eos_id=EOS, pad_id=-1, num_threads=1, shuffle_input_sentence=True,
        input_sentence_size=200000, seed_sentencepiece_size=1000000, minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def token_stream(sp, texts):
    ids = []
    for text in texts:
        ids.extend(sp.encode(text))
        ids.append(EOS)
    return ids


def windowed_loss(model, ids, context):
    """Mean next-token loss over non-overlapping windows; the CI check windows the same way."""
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, context):
            window = torch.tensor(ids[start:start + context], dtype=torch.long)[None]
            if window.shape[1] < 2:
                break
            logits = model(window)[0, :-1]
            total += F.cross_entropy(logits, window[0, 1:], reduction="sum").item()
            count += window.shape[1] - 1
    return total / count, count


def greedy(model, sp, prompt):
    ids = sp.encode(prompt)
    out = []
    with torch.no_grad():
        for _ in range(CONTINUATION_TOKENS):
            token = int(model(torch.tensor([ids + out]))[0, -1].argmax())
            out.append(token)
            if token == EOS:
                break
    return {"prompt": prompt, "tokens": out, "text": sp.decode([t for t in out if t != EOS])}


def f16_rounded(model):
    rounded = Llama(model.config)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return rounded.eval()


def export(model, sp, path):
    config = model.config
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    types = []
    for i in range(len(pieces)):
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        else:
            types.append(1)
    metadata = {
        "general.architecture": "llama",
        "general.name": NAME,
        "general.file_type": 1,
        "general.license": "WordNet-3.0 (training data); see WORDNET-LICENSE.txt",
        "llama.vocab_size": config.vocab_size,
        "llama.context_length": config.context,
        "llama.embedding_length": config.dim,
        "llama.block_count": config.layers,
        "llama.feed_forward_length": config.hidden,
        "llama.attention.head_count": config.heads,
        "llama.attention.head_count_kv": config.heads,
        "llama.attention.layer_norm_rms_epsilon": config.norm_eps,
        "llama.rope.freq_base": config.rope_base,
        "llama.rope.dimension_count": config.dim // config.heads,
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": pieces,
        "tokenizer.ggml.scores": np.array([sp.get_score(i) for i in range(len(pieces))], dtype=np.float32),
        "tokenizer.ggml.token_type": np.array(types, dtype=np.int32),
        "tokenizer.ggml.unknown_token_id": UNK,
        "tokenizer.ggml.bos_token_id": BOS,
        "tokenizer.ggml.eos_token_id": EOS,
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.ggml.add_eos_token": False,
        "tokenizer.ggml.add_space_prefix": False,
    }
    half = lambda t: t.detach().numpy().astype(np.float16)
    single = lambda t: t.detach().numpy().astype(np.float32)
    tensors = {"token_embd.weight": half(model.embed.weight)}
    for i, block in enumerate(model.blocks):
        tensors.update({
            f"blk.{i}.attn_norm.weight": single(block.attn_norm.weight),
            f"blk.{i}.attn_q.weight": half(block.q.weight),
            f"blk.{i}.attn_k.weight": half(block.k.weight),
            f"blk.{i}.attn_v.weight": half(block.v.weight),
            f"blk.{i}.attn_output.weight": half(block.o.weight),
            f"blk.{i}.ffn_norm.weight": single(block.ffn_norm.weight),
            f"blk.{i}.ffn_gate.weight": half(block.gate.weight),
            f"blk.{i}.ffn_up.weight": half(block.up.weight),
            f"blk.{i}.ffn_down.weight": half(block.down.weight),
        })
    tensors["output_norm.weight"] = single(model.norm.weight)  # output.weight: tied, so absent
    write_gguf(path, metadata, tensors)


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    log = Log(os.path.join(args.out, f"{NAME}.train.log"))
    config = Config()
    train_texts, held_out_texts = corpus.split()
    held_out_texts = held_out_texts[:HELD_OUT_ENTRIES]
    started = time.time()
    sp = train_tokenizer(train_texts, args.out if os.environ.get("KEEP_TOKENIZER") else "/tmp", config.vocab_size)
    data = torch.tensor(token_stream(sp, train_texts), dtype=torch.long)
    held_out = token_stream(sp, held_out_texts)
    log(f"torch {torch.__version__}, threads {args.threads}, seed {args.seed}")
    log(f"corpus: {len(train_texts)} entries, {len(data)} tokens; held out: {len(held_out_texts)} entries, {len(held_out)} tokens")
    model = Llama(config)
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {params} parameters, config {json.dumps(config.as_dict())}")
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95))
    sampler = torch.Generator().manual_seed(args.seed)
    warmup = max(1, args.steps // 20)
    for step in range(1, args.steps + 1):
        lr = args.lr * (step / warmup if step <= warmup else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (args.steps - warmup))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(data) - config.context - 1, (args.batch,), generator=sampler)
        batch = torch.stack([data[s:s + config.context + 1] for s in starts.tolist()])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0 or step == 1:
            log(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {time.time() - started:7.1f}s")
    model.eval()
    exported = f16_rounded(model)
    loss, predicted = windowed_loss(exported, held_out, config.context)
    log(f"held-out loss (F16 weights): {loss:.4f} over {predicted} predicted tokens")
    continuations = [greedy(exported, sp, prompt) for prompt in PROMPTS]
    for c in continuations:
        log(f"greedy: {c['prompt']!r} -> {c['text']!r}")
    gguf_path = os.path.join(args.out, f"{NAME}.gguf")
    export(model, sp, gguf_path)
    with open(gguf_path, "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    with open(os.path.join(args.out, f"{NAME}.heldout.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(held_out_texts) + "\n")
    record = {
        "model": f"{NAME}.gguf", "sha256": sha256, "parameters": params, "config": config.as_dict(),
        "training": {"steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                     "threads": args.threads, "torch": torch.__version__,
                     "seconds": round(time.time() - started, 1), "tokens_seen": args.steps * args.batch * config.context},
        "held_out": {"file": f"{NAME}.heldout.txt", "tokens": len(held_out),
                     "token_sha256": hashlib.sha256(np.array(held_out, dtype="<i4").tobytes()).hexdigest(),
                     "predicted_tokens": predicted, "loss": round(loss, 5)},
        "continuations": continuations,
    }
    with open(os.path.join(args.out, f"{NAME}.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
    log(f"wrote {gguf_path} ({os.path.getsize(gguf_path)} bytes, sha256 {sha256})")


if __name__ == "__main__":
    main()
