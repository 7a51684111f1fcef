"""CLIP's BPE tokenizer, ported from openai/CLIP's simple_tokenizer.py (ftfy is not installed here: of its
fix_text only the NFC normalisation is applied; html.unescape is left out), reading a diffusers tokenizer/ directory (vocab.json, merges.txt).  Writes the expected ids of
ClipTokenizerVocabularyTest:

    python3 -m models.tools.clip_bpe src/test/resources/real-export/tiny-sd/tokenizer \
        src/test/resources/tokenizer/clip-v1-cases.json

The regular expression module `regex` (\\p{L}, \\p{N}) is not available, so the pattern
<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+ is matched by hand
with unicodedata's categories; Python's str.lower() and str.isspace() stand for CLIP's .lower() and \\s.
"""
import json
import sys
import unicodedata

SPECIALS = ["<|startoftext|>", "<|endoftext|>"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def split(text):
    """re.findall of CLIP's pattern (with re.IGNORECASE, which matters only for the alternatives' literals)."""
    out = []
    i = 0
    low = text.lower()
    while i < len(text):
        for lit in SPECIALS + CONTRACTIONS:
            if low.startswith(lit, i):
                out.append(text[i:i + len(lit)])
                i += len(lit)
                break
        else:
            c = text[i]
            if is_letter(c):
                j = i
                while j < len(text) and is_letter(text[j]):
                    j += 1
            elif is_number(c):
                j = i + 1
            elif not c.isspace():
                j = i
                while j < len(text) and not (text[j].isspace() or is_letter(text[j]) or is_number(text[j])):
                    j += 1
            else:
                i += 1
                continue
            out.append(text[i:j])
            i = j
    return out


class Bpe:
    def __init__(self, directory):
        with open(f"{directory}/vocab.json", encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(f"{directory}/merges.txt", encoding="utf-8") as f:
            lines = f.read().split("\n")[1:]
        merges = [tuple(l.split()) for l in lines if l.strip()]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()

    def bpe(self, token):
        if token in SPECIALS:
            return [token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return list(word)

    def encode(self, text):
        # whitespace_clean(basic_clean(text)).lower(); of basic_clean's ftfy.fix_text only its final NFC step
        text = " ".join(unicodedata.normalize("NFC", text).split()).strip().lower()
        ids = []
        for token in split(text):
            if token in SPECIALS:
                ids.append(self.encoder[token])
                continue
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token))
        return ids

    def padded(self, text, length=77, pad="<|endoftext|>"):
        content = self.encode(text)
        kept = content[:length - 2]
        ids = [self.encoder["<|startoftext|>"]] + kept + [self.encoder["<|endoftext|>"]]
        ids += [self.encoder[pad]] * (length - len(ids))
        return ids, len(content) > len(kept)


CASES = [
    "A painting of a squirrel eating a burger",
    "",
    "Hello, world! What's up?? (really...) #1 -- 100% @home",
    "3.14159 x 2048 = 6433.98, 1st 2nd 3rd; 1,000,000",
    "a cat 🐱 riding a 🚀 to the 🌕",
    "Café crème brûlée à la française, naïve façade",
    "东京的夜景，霓虹灯",
    "a    dog\tin\n\nthe   rain  ",
    "ÉCOLE MAÎTRESSE ÆTHER",
    "Cafe\u0301 vs Caf\u00e9",
    "don't you've we'll I'd they're it's",
    "<|endoftext|> inside a prompt",
    "over-the-top, state_of_the_art/4k ++masterpiece++ [[detailed]] {foo:1.2}",
    "ΟΔΟΣ ΣΟΦΟΣ",
    " ".join(["a very long prompt with many words"] * 14),
]


def main():
    directory, out = sys.argv[1], sys.argv[2]
    bpe = Bpe(directory)
    cases = []
    for text in CASES:
        ids, truncated = bpe.padded(text)
        cases.append({"text": text, "ids": ids, "truncated": truncated})
    doc = {
        "source": "models/tools/clip_bpe.py: openai/CLIP simple_tokenizer.py's BPE ported to plain Python over this "
                  "vocab.json + merges.txt, with NFC in place of ftfy.fix_text and without html.unescape; not computed with transformers",
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
