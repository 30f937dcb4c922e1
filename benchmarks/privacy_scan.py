"""Privacy scan cost and catch rate: 1 MB of real text, 100 KB adversarial inputs, the corpus.

* Throughput: ``PrivacyRules().check`` over 1 MB of real text (GSM8K questions and the edge and
  cloud models' worked answers from ``../shared/data/pairs``, BFCL questions and tool schemas
  from ``../shared/data/bfcl``): as one message, as 100 messages of 10 KB, and the same text with
  its Latin letters swapped for look-alikes every 50 characters (the Unicode normalisation path).
  Also ``scrub_text`` (the trace scrubber) over the same 1 MB.
* Adversarial: each 100 KB input that made a backtracking pattern slow (the email pattern of
  issue 18 took 14 s on 100 KB of letters).
* Corpus: catch rate of ``tests/data/privacy_evasion_corpus.json`` (every miss listed), and
  false positives on its benign texts and on every real GSM8K / BFCL record.

Usage: python benchmarks/privacy_scan.py [--repeat 7] [--out benchmarks/results/privacy_scan.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_netgpt.routing.privacy import PrivacyRules  # noqa: E402
from langchain_netgpt.tracing.scrub import SecretScrubber  # noqa: E402
from tests.unit_tests.reliability.privacy_corpus import load_corpus  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MB = 1_000_000


def real_records() -> list[str]:
    """Every GSM8K question and model answer, and every BFCL question and function doc."""
    records: list[str] = []
    for line in (DATA / "pairs" / "routellm-gsm8k.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        records.extend(m["content"] for m in row["messages"])
        records.extend(row[side]["response"] for side in ("edge", "cloud") if row.get(side))
    for path in sorted((DATA / "bfcl").glob("BFCL_v4_*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            records.extend(m["content"] for turn in row["question"] for m in turn)
            records.append(json.dumps(row["function"]))
    return records


def one_megabyte(records: list[str]) -> str:
    text, i = [], 0
    size = 0
    while size < MB:
        record = records[i % len(records)]
        text.append(record)
        size += len(record) + 1
        i += 1
    return "\n".join(text)[:MB]


_LOOKALIKES = str.maketrans({"a": "\u0430", "o": "\u043e", "e": "\u0435"})


def with_lookalikes(text: str) -> str:
    return "".join(chunk[:49] + chunk[49:].translate(_LOOKALIKES) for chunk in _chunks(text, 50))


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def timed(fn: Any, repeat: int) -> dict[str, float]:
    """Wall and CPU time of ``fn`` (CPU: this process only, so other load on a shared machine
    inflates the wall time but not the CPU time)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - start)
    return {
        "median_ms": statistics.median(walls) * 1000,
        "max_ms": max(walls) * 1000,
        "cpu_median_ms": statistics.median(cpus) * 1000,
    }


ADVERSARIAL = {
    "letters": "a" * 100_000,
    "letters and dots": "a." * 50_000,
    "@ signs": "@" * 100_000,
    "letter @": "a@" * 50_000,
    "a@b.": "a@b." * 25_000,
    "digits": "1" * 100_000,
    "digit space": "1 " * 50_000,
    "+1": "+1" * 50_000,
    "de89 (IBAN starts)": "de89" * 25_000,
    "A1b2 (base64-like)": "A1b2" * 25_000,
    "base64 run": "aGVsbG8" * 14_286,
    "%40": "%40" * 33_333,
    "a at b dot": "a at b dot " * 9_091,
    "sk- prefixes": "sk-" * 33_333,
    "BEGIN PRIVATE KEY headers": "-----BEGIN RSA PRIVATE KEY-----" * 3_226,
    "zero-width letters": "a\u200b" * 50_000,
}


def run(repeat: int) -> dict[str, Any]:
    rules = PrivacyRules()
    records = real_records()
    text = one_megabyte(records)
    tricky = with_lookalikes(text)
    pieces = [HumanMessage(chunk) for chunk in _chunks(text, 10_000)]
    scrubber = SecretScrubber()
    throughput = {
        "1 MB real text, one message": timed(lambda: rules.check([HumanMessage(text)]), repeat),
        "1 MB real text, 100 messages": timed(lambda: rules.check(pieces), repeat),
        "1 MB with look-alike letters": timed(lambda: rules.check([HumanMessage(tricky)]), repeat),
        "scrub_text, 1 MB real text": timed(lambda: scrubber.scrub_text(text), repeat),
    }
    adversarial = {
        name: timed(lambda t=sample: rules.check([HumanMessage(t)]), max(1, repeat // 2))
        for name, sample in ADVERSARIAL.items()
    }
    variants, benign = load_corpus()
    misses = []
    for case in variants:
        match = rules.check(case["messages"])
        if match is None:
            misses.append(f"{case['id']} {case['kind']}: {case['technique']}")
    benign_flagged = [t for t in benign if rules.check([HumanMessage(t)]) is not None]
    flagged: dict[str, int] = {}
    for record in records:
        match = rules.check([HumanMessage(record)])
        if match is not None:
            flagged[match.rule] = flagged.get(match.rule, 0) + 1
    return {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
        "scan_mb_chars": len(text),
        "throughput": throughput,
        "adversarial_100kb": adversarial,
        "corpus": {
            "variants": len(variants),
            "caught": len(variants) - len(misses),
            "catch_rate": (len(variants) - len(misses)) / len(variants),
            "misses": misses,
            "benign": len(benign),
            "benign_flagged": benign_flagged,
        },
        "real_records": {"records": len(records), "flagged_private": flagged},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/privacy_scan.json")
    args = parser.parse_args()
    result = run(args.repeat)
    print(f"{'scan':<40} {'median ms':>10} {'max ms':>10} {'cpu ms':>10}")
    for name, row in {**result["throughput"], **result["adversarial_100kb"]}.items():
        print(
            f"{name:<40} {row['median_ms']:>10.1f} {row['max_ms']:>10.1f} "
            f"{row['cpu_median_ms']:>10.1f}"
        )
    corpus = result["corpus"]
    print(
        f"\ncorpus: {corpus['caught']}/{corpus['variants']} caught "
        f"({corpus['catch_rate']:.1%}); benign flagged: {len(corpus['benign_flagged'])}"
        f"/{corpus['benign']}"
    )
    for miss in corpus["misses"]:
        print(f"  miss {miss}")
    real = result["real_records"]
    print(f"real records flagged private: {real['flagged_private']} of {real['records']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
