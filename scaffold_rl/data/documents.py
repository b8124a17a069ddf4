"""Procedural documents to summarise: records of facts, with a difficulty knob (number of facts vs length budget).

A document is a record of `n` facts (`n` = the level), fields in a fixed order, e.g.

    prompt     D:name=Ada;age=41;pet=owl;year=1987\\nS:
    summary    Ada 41 owl        (under a budget of, say, 12 characters)

Every field draws its values from its own vocabulary, and the vocabularies are disjoint (numbers differ in length:
ages have 2 digits, years 4), so a value alone says which fact it is: the most compact summary is values separated
by single spaces, and `recovered_facts` can read any summary exactly. That parser is the task's exact metric:
a fact is kept when its value appears in the summary as a whole word (letters and digits; any separators).

The budget (characters of the summary, surrounding whitespace excluded) decides how many facts can be kept:
`max_fit` is the most any summary can keep (the shortest values first, one separator between two), so a level
whose facts do not all fit asks which to keep. Problems come from a counter-based RNG keyed by (seed, split,
level, index), and a document's split is decided by a hash of its text, like the arithmetic task's.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from scaffold_rl.types import Problem

FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivo", "Jan", "Kit", "Lou"),
    "city": ("Oslo", "Rome", "Lima", "Kyiv", "Baku", "Doha", "Riga", "Bern", "Nuuk", "Pune"),
    "age": tuple(str(n) for n in range(18, 90)),
    "job": ("vet", "poet", "monk", "chef", "spy", "maid", "diver", "judge"),
    "pet": ("cat", "dog", "owl", "fox", "yak", "eel", "ant", "bat"),
    "color": ("red", "tan", "blue", "gray", "pink", "gold", "jade", "teal"),
    "food": ("rice", "soup", "figs", "kale", "pie", "taco", "ham", "tofu"),
    "year": tuple(str(n) for n in range(1950, 2025)),
}
FIELD_ORDER = tuple(FIELDS)
MAX_FACTS = len(FIELDS)
_WORD = re.compile(r"[A-Za-z0-9]+")
_FIELD_OF = {value: name for name, values in FIELDS.items() for value in values}
assert len(_FIELD_OF) == sum(len(v) for v in FIELDS.values()), "field vocabularies must be disjoint"


def render_document(facts: dict[str, str]) -> str:
    """`name=Ada;age=41` with the fields in FIELD_ORDER."""
    return ";".join(f"{k}={facts[k]}" for k in FIELD_ORDER if k in facts)


def parse_document(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or key not in FIELDS or value not in FIELDS[key]:
            raise ValueError(f"not a document fact: {part!r} in {text!r}")
        out[key] = value
    return out


def recovered_facts(summary: str, facts: dict[str, str]) -> dict[str, bool]:
    """{field: its value appears in the summary as a whole word}: the exact metric."""
    words = set(_WORD.findall(summary))
    return {k: v in words for k, v in facts.items()}


def false_facts(summary: str, facts: dict[str, str]) -> int:
    """Words of the summary that are some field's value but not the document's (a made-up fact)."""
    return sum(1 for w in set(_WORD.findall(summary)) if w in _FIELD_OF and facts.get(_FIELD_OF[w]) != w)


def compact_summary(facts: dict[str, str], keep: list[str]) -> str:
    """The values of `keep`, in document order, separated by single spaces."""
    return " ".join(facts[k] for k in FIELD_ORDER if k in facts and k in keep)


def best_fields(facts: dict[str, str], budget: int) -> list[str]:
    """The most fields whose compact summary fits `budget`: shortest values first (ties in document order)."""
    order = sorted((k for k in FIELD_ORDER if k in facts), key=lambda k: (len(facts[k]), FIELD_ORDER.index(k)))
    kept, length = [], -1
    for k in order:
        if length + 1 + len(facts[k]) > budget:
            break
        kept.append(k)
        length += 1 + len(facts[k])
    return kept


def max_fit(facts: dict[str, str], budget: int) -> int:
    """The most facts any summary within `budget` characters can keep."""
    return len(best_fields(facts, budget))


def summary_length(summary: str) -> int:
    """What the budget counts: characters, surrounding whitespace excluded."""
    return len(summary.strip())


@dataclass(frozen=True)
class DocumentSpec:
    budget: int = 12  # characters a summary may have
    test_fraction: float = 0.2  # share of the document space held out for evaluation

    def __post_init__(self):
        if self.budget < 1:
            raise ValueError("summary budget must be >= 1 character")
        if not 0 < self.test_fraction < 1:
            raise ValueError("test_fraction must be in (0, 1)")


def _split_of(text: str, test_fraction: float) -> str:
    h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return "test" if (h % 10_000) < test_fraction * 10_000 else "train"


def draw_facts(rng: random.Random, n: int) -> dict[str, str]:
    if not 1 <= n <= MAX_FACTS:
        raise ValueError(f"a document has 1..{MAX_FACTS} facts, got {n}")
    fields = rng.sample(FIELD_ORDER, n)
    return {k: rng.choice(FIELDS[k]) for k in FIELD_ORDER if k in fields}


def make_problem(facts: dict[str, str], budget: int, source: str = "summaries") -> Problem:
    """A summarisation problem; its reference is the best compact summary (solution steps: its words), so
    reference injection and solution-prefix hints work as on the arithmetic task."""
    document = render_document(facts)
    kept = best_fields(facts, budget)
    words = [facts[k] for k in FIELD_ORDER if k in kept]
    steps = tuple(w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words))
    reference = "".join(steps)
    return Problem(id=f"{source}:{budget}:{document}", prompt=f"D:{document}\nS:", answer=reference,
                   solution_steps=steps, hints={"solution": steps} if steps else {}, level=len(facts), source=source,
                   reference=reference, meta={"document": document, "facts": dict(facts), "budget": budget})


class DocumentTask:
    """Deterministic generator of summarisation problems per level (number of facts) and split."""

    def __init__(self, spec: DocumentSpec | None = None, seed: int = 0):
        self.spec = spec or DocumentSpec()
        self.seed = seed

    def problems(self, split: str, level: int, n: int) -> list[Problem]:
        """n distinct problems of `level` facts in `split` ('train' | 'test'); fewer when the level has fewer
        distinct documents (level 1: about 160 train, 40 held out): the search stops after 2000 draws in a row
        that found nothing new."""
        out, seen, index, misses = [], set(), 0, 0
        while len(out) < n and misses < 2000:
            rng = random.Random(f"documents:{self.seed}:{split}:{level}:{index}")
            index += 1
            facts = draw_facts(rng, level)
            text = render_document(facts)
            if text in seen or _split_of(text, self.spec.test_fraction) != split:
                misses += 1
                continue
            seen.add(text)
            misses = 0
            out.append(make_problem(facts, self.spec.budget))
        return out

    def mixture(self, split: str, weights: dict[int, float], n: int, seed: int) -> list[Problem]:
        """n distinct problems with levels drawn by `weights` (a level's problems are its first ones in `split`)."""
        rng = random.Random(f"documents-mix:{self.seed}:{split}:{seed}")
        levels, probs = zip(*sorted(weights.items()))
        counts = dict.fromkeys(levels, 0)
        for _ in range(n):
            counts[rng.choices(levels, probs)[0]] += 1
        out = [p for lv, c in counts.items() if c for p in self.problems(split, lv, c)]
        rng.shuffle(out)
        return out


def pretraining_documents(rng: random.Random, levels: tuple[int, ...], test_fraction: float) -> dict[str, str]:
    """Facts of a random training-split document (never a held-out one) of a level drawn from `levels`."""
    while True:
        facts = draw_facts(rng, rng.choice(levels))
        if _split_of(render_document(facts), test_fraction) == "train":
            return facts


def random_summary(rng: random.Random, facts: dict[str, str], min_keep: int = 0, styles: bool = False) -> str:
    """The values of a random subset of the facts (size uniform in min_keep..n) in document order, space-separated;
    with `styles`, sometimes shuffled, comma-separated, or as key=value pairs (so a reconstructor trained on these
    reads summaries however a policy writes them)."""
    keys = [k for k in FIELD_ORDER if k in facts]
    kept = rng.sample(keys, rng.randint(min(min_keep, len(keys)), len(keys)))
    kept = [k for k in keys if k in kept]
    if not styles:
        return " ".join(facts[k] for k in kept)
    if rng.random() < 0.3:
        rng.shuffle(kept)
    style = rng.random()
    if style < 0.1:
        return ";".join(f"{k}={facts[k]}" for k in kept)
    return (", " if style < 0.2 else " ").join(facts[k] for k in kept)
