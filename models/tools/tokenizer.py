"""CLIP-format byte-level BPE tokenizer for the caption vocabulary.

Writes the same files as Stable Diffusion 1.x's tokenizer/ folder
(vocab.json, merges.txt with the "#version: 0.2" header, tokenizer_config.json,
special_tokens_map.json) plus a HuggingFace tokenizers tokenizer.json built
like openai/clip-vit-large-patch14's.  Ids: 0-255 the byte symbols, 256-511 the
same with the "</w>" end-of-word suffix, then one id per merge, then
<|startoftext|> and <|endoftext|> (the last two ids, as in CLIP).

Any text encodes: words outside the vocabulary fall apart into byte symbols.
"""
import json
import os
import re
import unicodedata
from collections import Counter

from . import data

MAX_LENGTH = 77
SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
# CLIP's pre-tokenizer regex (the "regex" module syntax, used as-is in tokenizer.json)
CLIP_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"
                r"[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")
# the same for Python's "re" module (no \p classes)
_PY_PATTERN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"
                         r"[^\W\d_]+|\d|(?:[^\s\w]|_)+")


def bytes_to_unicode():
    """CLIP's / GPT-2's reversible byte -> printable unicode map."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_merges(words):
    """Plain BPE training until every word is a single symbol."""
    seqs = {w: tuple(w[:-1]) + (w[-1] + "</w>",) for w in words}
    merges = []
    while True:
        pairs = Counter()
        for s in seqs.values():
            for p in zip(s, s[1:]):
                pairs[p] += 1
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for w, s in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i < len(s) - 1 and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = tuple(out)


def build_vocab(words=None):
    words = sorted(set(words or data.VOCABULARY))
    base = list(bytes_to_unicode().values())
    tokens = base + [b + "</w>" for b in base]
    merges = learn_merges(words)
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    tokens += [SOT, EOT]
    return {t: i for i, t in enumerate(tokens)}, merges


class ClipTokenizer:
    """CLIP's BPE algorithm (as in openai/CLIP and transformers' CLIPTokenizer)."""

    def __init__(self, vocab, merges):
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.sot = vocab[SOT]
        self.eot = vocab[EOT]
        self.cache = {}

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().strip().split("\n")[1:]
        return cls(vocab, [tuple(l.split()) for l in lines if l])

    @property
    def vocab_size(self):
        return len(self.encoder)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        self.cache[token] = word
        return word

    def tokenize(self, text):
        text = unicodedata.normalize("NFC", text)
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for tok in _PY_PATTERN.findall(text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(tok))
        return ids

    def __call__(self, text, max_length=MAX_LENGTH):
        """SD 1.x style: [SOT] + tokens (truncated) + [EOT], padded with EOT to 77."""
        ids = [self.sot] + self.tokenize(text)[:max_length - 2] + [self.eot]
        return ids + [self.eot] * (max_length - len(ids))

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids if i not in (self.sot, self.eot))
        text = bytearray(self.byte_decoder[c] for c in text.replace("</w>", " ")).decode("utf-8", "replace")
        return text.strip()


def tokenizer_json(vocab, merges):
    sot, eot = vocab[SOT], vocab[EOT]

    def added(tid, content):
        return {"id": tid, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": True, "special": True}

    def special(name):
        return {"SpecialToken": {"id": name, "type_id": 0}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(sot, SOT), added(eot, EOT)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_PATTERN}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special(SOT), {"Sequence": {"id": "A", "type_id": 0}}, special(EOT)],
            "pair": [special(SOT), {"Sequence": {"id": "A", "type_id": 0}}, special(EOT),
                     {"Sequence": {"id": "B", "type_id": 1}}, special(EOT)],
            "special_tokens": {SOT: {"id": SOT, "ids": [sot], "tokens": [SOT]},
                               EOT: {"id": EOT, "ids": [eot], "tokens": [EOT]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOT, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def write(directory, vocab=None, merges=None):
    if vocab is None:
        vocab, merges = build_vocab()
    os.makedirs(directory, exist_ok=True)

    def dump(name, obj, indent=2):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=indent)
            f.write("\n")

    dump("vocab.json", vocab, indent=None)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    dump("tokenizer.json", tokenizer_json(vocab, merges))
    dump("special_tokens_map.json", {"bos_token": SOT, "eos_token": EOT, "pad_token": EOT, "unk_token": EOT})
    dump("tokenizer_config.json", {
        "tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH, "do_lower_case": True,
        "errors": "replace", "add_prefix_space": False, "bos_token": SOT, "eos_token": EOT,
        "pad_token": EOT, "unk_token": EOT})
    return ClipTokenizer(vocab, merges)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Write a CLIP-format tokenizer for the caption vocabulary")
    ap.add_argument("out")
    ap.add_argument("--text", action="append", default=[], help="print the ids of this text")
    a = ap.parse_args()
    tok = write(a.out)
    print(f"vocab size {tok.vocab_size}, sot {tok.sot}, eot {tok.eot}")
    for t in a.text:
        print(t, "->", tok(t)[:16])
