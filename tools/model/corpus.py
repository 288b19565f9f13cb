"""WordNet 3.0 glosses and examples as dictionary-style English, one entry per line.

Entries look like `dog, domestic dog, Canis familiaris (noun): a member of the genus Canis ...;
"the dog barked all night"`. About one entry in a hundred is held out, chosen by a hash of its
synset so that the split does not depend on file order.
"""
import hashlib
import os

WORDNET_DIR = os.environ.get("WORDNET_DIR", "/usr/share/wordnet")
PARTS_OF_SPEECH = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
MAX_LEMMAS = 3


def _entry(line: str) -> tuple[str, str] | None:
    if line.startswith("  "):  # the licence header at the top of each file
        return None
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, pos = fields[0], fields[2]
    lemma_count = int(fields[3], 16)
    lemmas = [fields[4 + 2 * i] for i in range(lemma_count)][:MAX_LEMMAS]
    # Adjective markers such as `(a)` or `(p)` are syntax notes, not words.
    words = [lemma.split("(")[0].replace("_", " ") for lemma in lemmas]
    text = f"{', '.join(words)} ({PARTS_OF_SPEECH[pos]}): {gloss.strip()}"
    return f"{pos}{offset}", text


def entries() -> list[tuple[str, str]]:
    found = []
    for name in FILES:
        with open(os.path.join(WORDNET_DIR, name), encoding="utf-8") as handle:
            for line in handle:
                entry = _entry(line)
                if entry:
                    found.append(entry)
    return found


def is_held_out(synset_id: str) -> bool:
    return hashlib.sha256(synset_id.encode()).digest()[0] < 3  # ~1.2 %


def split() -> tuple[list[str], list[str]]:
    train, held_out = [], []
    for synset_id, text in entries():
        (held_out if is_held_out(synset_id) else train).append(text)
    return train, held_out
