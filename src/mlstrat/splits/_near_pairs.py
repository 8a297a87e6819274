"""Near-duplicate pairs: the thresholds, the results, and the search shared by every kind of
content. Rows with equal normalised content are collapsed into groups; candidate pairs of groups
come from LSH buckets (text) or hash bands (images), never from all pairs; each candidate is
verified on its exact similarity; the tally turns groups and verified pairs into counts per pair
of splits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from mlstrat._constants import SPLITS
from mlstrat.display._repr import NotebookRepr

__all__ = ["HAMMING_BITS", "NUMERIC_DIGITS", "SHINGLE_CHARS", "TEXT_JACCARD", "NearDuplicateFinding",
           "NearDuplicates", "PairCount"]

#: texts are near-duplicates at a Jaccard similarity of their shingle sets at least this high
TEXT_JACCARD = 0.8
#: characters per shingle of the normalised text
SHINGLE_CHARS = 5
#: MinHash permutations; the LSH index finds candidates from this Jaccard up
_NUM_PERM = 128
_LSH_JACCARD = 0.5
#: images (or pixel rows) are near-duplicates when their 64-bit pHashes differ in at most this many bits
HAMMING_BITS = 8
_HASH_BITS = 64
#: numeric rows are near-duplicates when equal once every value is rounded to this many significant digits
NUMERIC_DIGITS = 6
#: example pairs kept per pair of splits
_EXAMPLES = 5
#: file suffixes read as images when a split content column holds paths

# -- results ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairCount:
    """Near-duplicates between two splits (``first == second``: inside one split)."""

    first: str
    second: str
    rows: int        # rows of ``second`` with a near-duplicate in ``first`` (other than themselves)
    pairs: int       # near-duplicate pairs (a, b), a in first, b in second (unordered inside a split)
    examples: tuple[tuple[str, str, float], ...]  # (id in first, id in second, similarity)

    @property
    def across(self) -> bool:
        return self.first != self.second

    def to_dict(self) -> dict[str, Any]:
        return {"splits": [self.first, self.second], "rows": self.rows, "pairs": self.pairs,
                "examples": [{"ids": [a, b], "similarity": s} for a, b, s in self.examples]}


@dataclass(frozen=True)
class NearDuplicateFinding:
    """Near-duplicates of one kind of content (one text column, one image column, the pixels, ...)."""

    kind: str                    # text, image, pixels, numeric
    columns: tuple[str, ...]
    threshold: str               # the rule, in words
    compared: int                # rows with content to compare
    counts: tuple[PairCount, ...]

    def leaked_rows(self) -> int:
        return sum(c.rows for c in self.counts if c.across)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": list(self.columns), "threshold": self.threshold,
                "compared": self.compared, "leaked_rows": self.leaked_rows(),
                "counts": [c.to_dict() for c in self.counts]}


@dataclass(frozen=True)
class NearDuplicates(NotebookRepr):
    """What :func:`find_near_duplicates` found.

    Attributes
    ----------
    source : str
        The input's file name or type, for messages.
    rows : int
        Rows read.
    findings : tuple of NearDuplicateFinding
        One per kind of content compared, each with its counts per pair of splits.
    """

    source: str
    rows: int
    findings: tuple[NearDuplicateFinding, ...] = field(default=())

    @property
    def leakage(self) -> bool:
        """True when some row has a near-duplicate in another split."""
        return any(f.leaked_rows() for f in self.findings)

    @property
    def in_train(self) -> bool:
        """True when some train row has a near-duplicate elsewhere in train."""
        return any(c.rows for f in self.findings for c in f.counts if c.first == c.second == "train")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "leakage": self.leakage, "in_train": self.in_train,
                "thresholds": {"text_jaccard": TEXT_JACCARD, "shingle_chars": SHINGLE_CHARS,
                               "hamming_bits": HAMMING_BITS, "hash_bits": _HASH_BITS,
                               "numeric_digits": NUMERIC_DIGITS},
                "findings": [f.to_dict() for f in self.findings]}


# -- the search: exact groups, candidate pairs, verification, tally -----------------------------

@dataclass
class _Groups:
    """Rows with equal normalised content collapsed: one representative content per group."""

    contents: list[Any] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)   # row indices per group

    @classmethod
    def of(cls, keys: Sequence[Any]) -> _Groups:
        groups = cls()
        index: dict[Any, int] = {}
        for row, key in enumerate(keys):
            if key is None:
                continue
            g = index.setdefault(key, len(groups.contents))
            if g == len(groups.contents):
                groups.contents.append(key)
                groups.members.append([])
            groups.members[g].append(row)
        return groups


def _text_edges(groups: _Groups, *, jaccard: float) -> list[tuple[int, int, float]]:
    """Pairs of groups whose shingle sets reach ``jaccard``: MinHash LSH candidates, verified exactly."""
    from datasketch import MinHash, MinHashLSH

    sets = groups.contents
    lsh = MinHashLSH(threshold=min(_LSH_JACCARD, jaccard), num_perm=_NUM_PERM)
    signatures = MinHash.bulk([[s.encode("utf-8") for s in sorted(shingle_set)] for shingle_set in sets],
                              num_perm=_NUM_PERM, seed=1)
    edges = []
    for g, signature in enumerate(signatures):
        for other in lsh.query(signature):
            sim = len(sets[g] & sets[other]) / len(sets[g] | sets[other])
            if sim >= jaccard:
                edges.append((other, g, sim))
        lsh.insert(g, signature)
    return edges


def _hash_edges(groups: _Groups, *, hamming: int) -> list[tuple[int, int, float]]:
    """Pairs of groups whose hashes differ in at most ``hamming`` bits, found through shared bands."""
    bands = _bands(hamming)
    buckets: dict[tuple[int, int], list[int]] = {}
    seen: set[tuple[int, int]] = set()
    edges = []
    for g, value in enumerate(groups.contents):
        for b, (shift, mask) in enumerate(bands):
            bucket = buckets.setdefault((b, (value >> shift) & mask), [])
            for other in bucket:
                if (other, g) in seen:
                    continue
                seen.add((other, g))
                bits = (value ^ groups.contents[other]).bit_count()
                if bits <= hamming:
                    edges.append((other, g, 1.0 - bits / _HASH_BITS))
            bucket.append(g)
    return edges


def _bands(hamming: int) -> list[tuple[int, int]]:
    """``hamming + 1`` bands of near-equal width covering the 64 bits: (shift, mask) each."""
    n = hamming + 1
    widths = [_HASH_BITS // n + (1 if i < _HASH_BITS % n else 0) for i in range(n)]
    out, shift = [], 0
    for w in widths:
        out.append((shift, (1 << w) - 1))
        shift += w
    return out


def _tally(groups: _Groups, edges: list[tuple[int, int, float]], ids: Sequence[str],
           splits: Sequence[str]) -> tuple[PairCount, ...]:
    """Rows, pairs and example pairs per pair of splits present (inside train too)."""
    present = [s for s in SPLITS if s in set(splits)]
    count = [{s: 0 for s in present} for _ in groups.members]
    for g, rows in enumerate(groups.members):
        for r in rows:
            count[g][splits[r]] += 1
    neighbours: list[list[int]] = [[] for _ in groups.members]
    for a, b, _sim in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    wanted = [(a, b) for a, b in combinations(present, 2)] + ([("train", "train")] if "train" in present else [])
    out = []
    for first, second in wanted:
        rows = pairs = 0
        for g, c in enumerate(count):
            own = c[first] - (1 if first == second else 0)  # the row itself is no duplicate of itself
            near = any(count[n][first] for n in neighbours[g])
            if c[second] and (own > 0 or near):
                rows += c[second]
            pairs += c[first] * c[second] if first != second else c[first] * (c[first] - 1) // 2
        for a, b, _sim in edges:
            pairs += (count[a][first] * count[b][second] + count[b][first] * count[a][second]
                      if first != second else count[a][first] * count[b][first])
        examples = tuple(_examples(groups, edges, ids, splits, first, second)) if pairs else ()
        out.append(PairCount(first, second, rows, pairs, examples))
    return tuple(out)


def _examples(groups: _Groups, edges: list[tuple[int, int, float]], ids: Sequence[str], splits: Sequence[str],
              first: str, second: str) -> Iterator[tuple[str, str, float]]:
    """Up to a few (id in first, id in second, similarity): exact copies first, then the closest."""
    shown = 0

    def rows_in(g: int, split: str) -> list[int]:
        return [r for r in groups.members[g] if splits[r] == split][:2]

    for g in range(len(groups.members)):
        a, b = rows_in(g, first), rows_in(g, second)
        if first == second and len(a) >= 2:
            yield ids[a[0]], ids[a[1]], 1.0
            shown += 1
        elif first != second and a and b:
            yield ids[a[0]], ids[b[0]], 1.0
            shown += 1
        if shown == _EXAMPLES:
            return
    for x, y, sim in sorted(edges, key=lambda e: -e[2]):
        for p, q in ((x, y), (y, x)):
            a, b = rows_in(p, first), rows_in(q, second)
            if a and b:
                yield ids[a[0]], ids[b[0]], round(sim, 4)
                shown += 1
                break
        if shown == _EXAMPLES:
            return
