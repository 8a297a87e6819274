"""Benchmark: precision and recall of near-duplicate detection on planted near-duplicates.

    python benchmarks/leakage_bench.py [--texts 5000] [--planted 500] [--seed 0]

Two datasets, each with near-duplicates planted in known places:

- **images**: the 1 797 digits shipped with scikit-learn, each upscaled to a 32 x 32 PNG; a
  random 3 x 150 of them get a copy re-encoded as JPEG (quality 75), a copy with Gaussian noise
  (std 8 of 255) and a copy cropped by one pixel on every side. Compared with ``--images``.
- **text**: captions generated from a template ("a small brown dog runs across the sandy beach
  at dawn"), so that distinct captions share many words (hard negatives); a random ``planted``
  of them get a copy with a trailing ".", a copy in upper case, a copy with one character
  changed, and a copy with one word replaced. Compared with ``--text``.

Every row sits in train, so every near-duplicate pair is found inside train; a found pair is
right when both rows come from the same original. Precision = right pairs / pairs found;
recall = planted pairs found / planted pairs (a pair of two copies of one original counts too).
Each threshold is swept around its default; times are for the whole call (read, hash, search)
in this process, next to an all-pairs comparison of the same content for scale (``--all-pairs``
compares every pair of texts, which takes minutes; by default it is timed on a sample).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow as pa

from mlstrat.splits import find_near_duplicates
from mlstrat.splits._near_duplicates import shingles
from mlstrat.splits._near_pairs import _Groups, _hash_edges, _text_edges

ADJECTIVES = ["small", "large", "brown", "black", "white", "red", "young", "old", "happy", "wet"]
SUBJECTS = ["dog", "cat", "child", "man", "woman", "horse", "bird", "boy", "girl", "cyclist"]
VERBS = ["runs across", "sits on", "walks along", "jumps over", "sleeps near", "plays on", "looks at"]
PLACES = ["beach", "field", "road", "bridge", "hill", "sofa", "river", "park", "fence", "street"]
#: rows the all-pairs text comparison is timed on (it grows with the square of the rows)
SAMPLE = 1500
TIMES = ["at dawn", "at night", "in the rain", "in summer", "after lunch", "in the snow", ""]


def found_pairs(keys: list, edges_of) -> set[tuple[int, int]]:
    """Every pair of rows the search reports: rows of one group, and rows of groups joined by an edge."""
    groups = _Groups.of(keys)
    pairs = {tuple(sorted(p)) for members in groups.members for p in combinations(members, 2)}
    for a, b, _sim in edges_of(groups):
        pairs |= {tuple(sorted((i, j))) for i in groups.members[a] for j in groups.members[b]}
    return pairs


def truth_pairs(origin: list[int]) -> set[tuple[int, int]]:
    by_origin: dict[int, list[int]] = {}
    for row, o in enumerate(origin):
        by_origin.setdefault(o, []).append(row)
    return {p for rows in by_origin.values() for p in combinations(rows, 2)}


def score(found: set, truth: set, origin: list[int]) -> dict[str, float]:
    right = {p for p in found if origin[p[0]] == origin[p[1]]}
    return {"found": len(found), "precision": len(right) / len(found) if found else 1.0,
            "recall": len(found & truth) / len(truth) if truth else 1.0}


def recall_by_variant(found: set, origin: list[int], variant: list[str]) -> dict[str, float]:
    out = {}
    for name in sorted(set(variant) - {"original"}):
        rows = [r for r, v in enumerate(variant) if v == name]
        originals = {o: r for r, (o, v) in enumerate(zip(origin, variant)) if v == "original"}
        hit = sum(1 for r in rows if tuple(sorted((originals[origin[r]], r))) in found)
        out[name] = hit / len(rows)
    return out


# -- images ---------------------------------------------------------------------------------------

def image_dataset(root: Path, planted: int, seed: int) -> tuple[Path, list[int], list[str]]:
    from PIL import Image
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    x = load_digits().data

    def upscaled(row: np.ndarray) -> Image.Image:
        grey = (row.reshape(8, 8) / 16 * 255).round().astype(np.uint8)
        return Image.fromarray(grey, mode="L").resize((32, 32), Image.BICUBIC)

    def jpeg(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=75)
        buffer.seek(0)
        return Image.open(buffer).convert("L")

    def noise(image: Image.Image) -> Image.Image:
        pixels = np.asarray(image).astype(float) + rng.normal(0, 8, (32, 32))
        return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), mode="L")

    variants = {"jpeg": jpeg, "noise": noise, "crop": lambda im: im.crop((1, 1, 31, 31))}
    paths, origin, variant = [], [], []
    for i, row in enumerate(x):
        upscaled(row).save(root / f"d{i}.png")
        paths.append(f"d{i}.png"), origin.append(i), variant.append("original")
    chosen = rng.choice(len(x), size=3 * planted, replace=False)
    for k, (name, change) in enumerate(variants.items()):
        for i in chosen[k * planted:(k + 1) * planted]:
            change(upscaled(x[i])).save(root / f"{name}{i}.png")
            paths.append(f"{name}{i}.png"), origin.append(int(i)), variant.append(name)
    manifest = root / "images.csv"
    manifest.write_text("id,split,path\n" + "".join(f"{p},train,{p}\n" for p in paths))
    return manifest, origin, variant


def bench_images(planted: int, seed: int) -> None:
    from mlstrat.splits._near_duplicates import phash_of_file

    with tempfile.TemporaryDirectory() as tmp:
        manifest, origin, variant = image_dataset(Path(tmp), planted, seed)
        start = time.perf_counter()
        result = find_near_duplicates(manifest, images="path")
        took = time.perf_counter() - start
        hashes = [phash_of_file(Path(tmp) / line.split(",")[2])
                  for line in manifest.read_text().splitlines()[1:]]
    truth = truth_pairs(origin)
    print(f"images: {len(origin)} rows ({len(truth)} planted pairs), mlstrat leakage --images: {took:.2f} s; "
          f"train rows with a near-duplicate in train: {result.findings[0].counts[-1].rows}")
    start = time.perf_counter()
    brute = sum(1 for a, b in combinations(hashes, 2) if (a ^ b).bit_count() <= 8)
    print(f"  all-pairs Hamming over the same hashes: {time.perf_counter() - start:.2f} s, {brute} pairs")
    print("  | Hamming <= | pairs found | precision | recall | recall jpeg / noise / crop |")
    print("  |---|---|---|---|---|")
    for bits in (4, 6, 8, 10, 12):
        found = found_pairs(hashes, lambda g, b=bits: _hash_edges(g, hamming=b))
        s = score(found, truth, origin)
        by = recall_by_variant(found, origin, variant)
        print(f"  | {bits} | {s['found']} | {s['precision']:.3f} | {s['recall']:.3f} | "
              f"{by['jpeg']:.3f} / {by['noise']:.3f} / {by['crop']:.3f} |")


# -- text -----------------------------------------------------------------------------------------

def caption(rng: np.random.Generator) -> str:
    words = ["a", rng.choice(ADJECTIVES), rng.choice(ADJECTIVES), rng.choice(SUBJECTS), rng.choice(VERBS),
             "the", rng.choice(ADJECTIVES), rng.choice(PLACES), rng.choice(TIMES)]
    return " ".join(w for w in words if w)


def text_dataset(n: int, planted: int, seed: int) -> tuple[list[str], list[int], list[str]]:
    rng = np.random.default_rng(seed)
    texts = list(dict.fromkeys(caption(rng) for _ in range(3 * n)))[:n]

    def typo(t: str) -> str:
        i = int(rng.integers(2, len(t) - 2))
        return t[:i] + ("x" if t[i] != "x" else "q") + t[i + 1:]

    def word(t: str) -> str:
        words = t.split()
        i = int(rng.integers(1, len(words)))
        words[i] = "very" if words[i] != "very" else "quite"
        return " ".join(words)

    variants = {"period": lambda t: t + ".", "upper": str.upper, "typo": typo, "word": word}
    origin, variant = list(range(len(texts))), ["original"] * len(texts)
    for i in rng.choice(len(texts), size=planted, replace=False):
        for name, change in variants.items():
            texts.append(change(texts[i])), origin.append(int(i)), variant.append(name)
    return texts, origin, variant


def bench_text(n: int, planted: int, seed: int, *, all_pairs: bool) -> None:
    texts, origin, variant = text_dataset(n, planted, seed)
    table = pa.table({"id": list(range(len(texts))), "split": ["train"] * len(texts), "text": texts})
    start = time.perf_counter()
    result = find_near_duplicates(table, text="text")
    took = time.perf_counter() - start
    truth = truth_pairs(origin)
    sets = [shingles(t) for t in texts]
    print(f"text: {len(texts)} rows ({len(truth)} planted pairs), mlstrat leakage --text: {took:.2f} s; "
          f"train rows with a near-duplicate in train: {result.findings[0].counts[-1].rows}")
    sample = sets if all_pairs else sets[:SAMPLE]
    start = time.perf_counter()
    brute = sum(1 for a, b in combinations(sample, 2) if len(a & b) >= 0.8 * len(a | b))
    took = (time.perf_counter() - start) * (len(sets) / len(sample)) ** 2
    lsh = found_pairs(sample, lambda g: _text_edges(g, jaccard=0.8))
    timed = "" if all_pairs else f", timed on the first {len(sample)} rows and scaled by n^2"
    print(f"  all-pairs Jaccard over the same shingles: {'about ' * (not all_pairs)}{took:.0f} s{timed}; "
          f"there {brute} pairs reach 0.8, the LSH search finds {len(lsh)}")
    print("  | Jaccard >= | pairs found | precision | recall | recall period / upper / typo / word |")
    print("  |---|---|---|---|---|")
    for jaccard in (0.6, 0.7, 0.8, 0.9):
        found = found_pairs(sets, lambda g, j=jaccard: _text_edges(g, jaccard=j))
        s = score(found, truth, origin)
        by = recall_by_variant(found, origin, variant)
        print(f"  | {jaccard} | {s['found']} | {s['precision']:.3f} | {s['recall']:.3f} | "
              f"{by['period']:.3f} / {by['upper']:.3f} / {by['typo']:.3f} / {by['word']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=5000, help="distinct captions generated")
    parser.add_argument("--planted", type=int, default=500, help="captions given 4 near-duplicate copies each")
    parser.add_argument("--images", type=int, default=150, help="digits given each kind of copy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-pairs", action="store_true", help="compare every pair of texts (minutes)")
    args = parser.parse_args()
    bench_images(args.images, args.seed)
    bench_text(args.texts, args.planted, args.seed, all_pairs=args.all_pairs)


if __name__ == "__main__":
    main()
