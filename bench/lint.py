"""Cost of lint before signing, per certificate: the same TLS leaf issued with
LINT_BEFORE_SIGNING=every and =sample:100, against the bare signature (linting off), for an
EC P-256, EC P-384 and RSA-2048 issuer. The rehearsal (a throwaway-key signature) and pkilint
run in-process with validators built once (warm-up excluded).

    .venv/bin/python bench/lint.py [--n 200]

Prints a table and, last, one JSON line.
"""
from __future__ import annotations

import argparse
import json
import time

from common import cpu_count, loadavg

from app.pki import lint
from app.pki.ca import create_intermediate_certificate, create_root_certificate
from app.pki.keys import generate_private_key
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.subject import SubjectFields
from app.standards.tls_profile import required_digest_for_algorithm

MODES = {"off": "sample:1000000000", "every": "every", "sample:100": "sample:100"}


def _issuer(algorithm: str):  # type: ignore[no-untyped-def]
    digest = required_digest_for_algorithm(algorithm) or "sha256"
    root_key, key = generate_private_key(algorithm), generate_private_key(algorithm)
    subject = SubjectFields("Bench Root", organization="Bench", country="DE")
    root = create_root_certificate(subject, root_key, digest, 3650)
    issuing = create_intermediate_certificate(
        SubjectFields("Bench Issuing", organization="Bench", country="DE"), key, digest,
        1825, root, root_key)
    return issuing, key, digest


def _per_leaf_ms(issuing, key, digest: str, n: int) -> float:  # type: ignore[no-untyped-def]
    leaf_key = generate_private_key("ec-256").public_key()
    profile = LeafProfile(SubjectFields("www.example.com"), dns_names=("api.example.com",),
                          extended_key_usage=("serverAuth", "clientAuth"),
                          validity_days=90, digest=digest)
    start = time.perf_counter()
    for _ in range(n):
        issue_leaf(profile, leaf_key, issuing, key)
    return (time.perf_counter() - start) * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for algorithm in ("ec-256", "ec-384", "rsa-2048"):
        issuing, key, digest = _issuer(algorithm)
        lint.configure("every")
        _per_leaf_ms(issuing, key, digest, 5)  # warm-up: validators, throwaway key
        results[algorithm] = {}
        for name, mode in MODES.items():
            lint.configure(mode)
            results[algorithm][name] = round(_per_leaf_ms(issuing, key, digest, args.n), 3)
        lint.configure("every")
        row = results[algorithm]
        row["lint_cost_every"] = round(row["every"] - row["off"], 3)
        row["lint_cost_sample100"] = round(row["sample:100"] - row["off"], 3)
    print(f"{'issuer':10} {'off ms':>8} {'every ms':>9} {'sample:100 ms':>14} "
          f"{'lint cost (every)':>18}")
    for algorithm, row in results.items():
        print(f"{algorithm:10} {row['off']:8.2f} {row['every']:9.2f} {row['sample:100']:14.2f}"
              f" {row['lint_cost_every']:18.2f}")
    print(json.dumps({"bench": "lint_before_signing", "n": args.n, "per_leaf_ms": results,
                      "loadavg": loadavg(), "cpus": cpu_count()}))


if __name__ == "__main__":
    main()
