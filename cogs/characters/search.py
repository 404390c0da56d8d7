"""In-memory fuzzy lookup of characters (and FAQ topics) for autocomplete and free text.

Why in memory: Discord gives autocomplete 3 seconds and no deferral, so every keystroke
is answered from a small index built once from the store, never from a query. The
scores come from rapidfuzz (C implementations of edit-distance ratios); this module
only decides which of them to combine and how "the same name" is normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz

from bot.datapack import Character, FaqEntry, name_key

__all__ = [
    "RESOLVE_MARGIN",
    "RESOLVE_THRESHOLD",
    "SUGGEST_FLOOR",
    "CharacterIndex",
    "FaqIndex",
    "Match",
    "Resolution",
    "match_key",
    "name_variants",
]

SUGGEST_FLOOR = 55.0
"""Below this a name is noise, not a suggestion."""

RESOLVE_THRESHOLD = 80.0
"""Free text resolves to a character only from here up (a prefix needs to cover ~1/3 of a name)."""

RESOLVE_MARGIN = 10.0
"""The best match must beat the runner-up by this much, unless it is exact: "Lee" is three people."""

NameKind = Literal["name", "hangul", "alias", "variant", "actor", "title", "question", "keyword"]

# Ties are broken by what matched: a character's own name before an alias before the actor.
_KIND_RANK: dict[str, int] = {
    "name": 0,
    "title": 0,
    "hangul": 1,
    "alias": 2,
    "keyword": 2,
    "variant": 3,
    "question": 3,
    "actor": 4,
}

_HANGUL_SYLLABLE = re.compile(r"^[\uac00-\ud7a3]+$")


def match_key(text: str) -> str:
    """The compact form names are compared in: ``name_key`` (case, spaces, hyphens gone), then
    Hangul syllables split into jamo so one wrong jamo is a small typo, and accents dropped."""
    decomposed = unicodedata.normalize("NFD", name_key(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Romanizations of one Korean vowel that fans mix up ("Su Hyeok" / "Soo Hyuk", "Byeong" / "Byung").
_VOWEL_FOLDS = (("yeo", "yu"), ("eo", "u"), ("oo", "u"), ("ee", "i"))


def romanization_fold(key: str) -> str:
    """A coarser key where common spelling variants of the same vowel coincide.

    Only for edit-distance scores, never prefixes: folding "cheo" would break typing "che".
    """
    for written, folded in _VOWEL_FOLDS:
        key = key.replace(written, folded)
    return key


def _words(text: str) -> str:
    """The spaced form (lower case, any punctuation a space) for word-order-insensitive scores."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def name_variants(name: str) -> tuple[str, ...]:
    """Orders a fan may type a Korean name in: given name only, and family name last.

    Only for a primary name (not aliases): "Solomon Park" would give a bare "Park".

    "Lee Cheong San" gives "Cheong San" and "Cheong San Lee"; "이청산" gives "청산".
    Wrong guesses (a two-syllable family name) only add a harmless extra alias.
    """
    words = name.replace("-", " ").split()
    if len(words) >= 2:
        given = " ".join(words[1:])
        return (given, f"{given} {words[0]}")
    compact = name.strip()
    if _HANGUL_SYLLABLE.match(compact) and len(compact) == 3:
        return (compact[1:],)
    return ()


@dataclass(frozen=True, slots=True)
class _Entry:
    owner: str
    text: str
    kind: NameKind
    key: str
    folded: str
    words: str


@dataclass(frozen=True, slots=True)
class Match:
    """One candidate: who, how well (0-100), and which of their names matched."""

    id: str
    score: float
    matched: str
    kind: NameKind

    @property
    def via_actor(self) -> bool:
        return self.kind == "actor"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What free text resolved to: a match, or why not (nothing close, or several equally close)."""

    match: Match | None
    ambiguous: bool
    suggestions: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class _Query:
    key: str
    folded: str
    words: str

    @classmethod
    def of(cls, text: str) -> _Query:
        key = match_key(text)
        return cls(key, romanization_fold(key), _words(text))


def _entry(owner: str, text: str, kind: NameKind) -> _Entry:
    key = match_key(text)
    return _Entry(owner, text, kind, key, romanization_fold(key), _words(text))


def _score(query: _Query, entry: _Entry) -> float:
    """The best of several views of the same comparison, all on a 0-100 scale.

    exact and prefix (someone typing), ratio (typos, spacing), prefix ratio (a typo while
    still typing), token sort (words in another order), partial (a word from the middle).
    """
    query_key, key = query.key, entry.key
    if query_key == key:
        return 100.0
    if key.startswith(query_key):
        # 70..100 by how much of the name is typed, so "c" suggests but does not resolve.
        return 70.0 + 30.0 * len(query_key) / len(key)
    best = fuzz.ratio(query_key, key)
    if len(query_key) >= 3:
        best = max(best, 0.95 * fuzz.ratio(query.folded, entry.folded))
        best = max(best, 0.9 * fuzz.ratio(query_key, key[: len(query_key)]))
        if len(query_key) < len(key):
            best = max(best, 0.85 * fuzz.partial_ratio(query_key, key, score_cutoff=60))
    if " " in query.words or " " in entry.words:
        best = max(best, fuzz.token_sort_ratio(query.words, entry.words, score_cutoff=60))
    return best


#: Distinct queries remembered per index (a few hundred kB at most).
QUERY_CACHE_SIZE = 4096


class _FuzzyIndex:
    """Names grouped by owner; a query scores every name and each owner keeps its best."""

    def __init__(self, entries: Sequence[_Entry], order: Sequence[str]) -> None:
        self._entries = tuple(entries)
        self._order = {owner: position for position, owner in enumerate(order)}
        # The index never changes (a new pack builds a new one), so answers are memoised:
        # many members type the same names and prefixes, and each miss scores every name.
        self._ranked = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._rank)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._order)

    def forget_queries(self) -> None:
        """Empty the memo (benchmarks time the scoring itself, not a lookup)."""
        self._ranked.cache_clear()

    def suggest(self, query: str, limit: int = 25) -> list[Match]:
        """At most ``limit`` owners, best first; an empty query lists everyone in pack order."""
        return list(self._ranked(query)[:limit])

    def _rank(self, query: str) -> tuple[Match, ...]:
        """Every owner scoring above the floor, best first (memoised per query)."""
        limit = len(self._order)
        parsed = _Query.of(query)
        if not parsed.key:
            firsts: dict[str, _Entry] = {}
            for entry in self._entries:
                firsts.setdefault(entry.owner, entry)
            return tuple(Match(e.owner, 0.0, e.text, e.kind) for e in firsts.values())[:limit]
        best: dict[str, tuple[float, int, _Entry]] = {}
        for entry in self._entries:
            score = _score(parsed, entry)
            if score < SUGGEST_FLOOR:
                continue
            rank = _KIND_RANK[entry.kind]
            current = best.get(entry.owner)
            if current is None or (score, -rank) > (current[0], -current[1]):
                best[entry.owner] = (score, rank, entry)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1], self._order[item[0]]))
        return tuple(Match(owner, round(score, 2), entry.text, entry.kind) for owner, (score, _, entry) in ranked)[
            :limit
        ]

    def resolve(self, query: str) -> Resolution:
        """Free text to one owner, or up to three suggestions when nothing (or too much) fits."""
        candidates = self.suggest(query, limit=25)
        if not candidates or candidates[0].score < RESOLVE_THRESHOLD:
            return Resolution(None, False, tuple(candidates[:3]))
        top = candidates[0]
        if top.score == 100.0:
            # An exact name wins over any near miss, but two exact names are a real tie.
            contenders = [c for c in candidates if c.score == 100.0]
        else:
            contenders = [c for c in candidates if top.score - c.score < RESOLVE_MARGIN]
        if len(contenders) > 1:
            return Resolution(None, True, tuple(contenders[:3]))
        return Resolution(top, False, ())


class CharacterIndex(_FuzzyIndex):
    """Every character by name, Hangul, aliases, name orders and actor names."""

    @classmethod
    def build(cls, characters: Iterable[Character]) -> CharacterIndex:
        entries: list[_Entry] = []
        order: list[str] = []
        for character in characters:
            order.append(character.id)
            seen: set[str] = set()

            def add(text: str, kind: NameKind, owner: str = character.id, seen: set[str] = seen) -> None:
                entry = _entry(owner, text, kind)
                if entry.key and entry.key not in seen:
                    seen.add(entry.key)
                    entries.append(entry)

            add(character.name, "name")
            if character.hangul:
                add(character.hangul, "hangul")
            for alias in character.aliases:
                add(alias, "alias")
            for own in (character.name, character.hangul or ""):
                for variant in name_variants(own):
                    add(variant, "variant")
            for actor_name in character.actor_names():
                add(actor_name, "actor")
            for own in (character.actor or "", character.actor_hangul or ""):
                for variant in name_variants(own):
                    add(variant, "actor")
        return cls(entries, order)


class FaqIndex(_FuzzyIndex):
    """FAQ topics by id, title, question and keywords (titles and questions are spoiler-free)."""

    @classmethod
    def build(cls, entries: Iterable[FaqEntry]) -> FaqIndex:
        indexed: list[_Entry] = []
        order: list[str] = []
        for entry in entries:
            order.append(entry.id)
            texts: list[tuple[str, NameKind]] = [
                (entry.title, "title"),
                (entry.id.replace("-", " "), "keyword"),
                (entry.question, "question"),
                *((keyword, "keyword") for keyword in entry.keywords),
            ]
            indexed += [_entry(entry.id, text, kind) for text, kind in texts if match_key(text)]
        return cls(indexed, order)
