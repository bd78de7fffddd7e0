#!/usr/bin/env python3
"""Independent GF(2^8) Shamir reference used to produce test/vectors/shamir-golden.json.

Written separately from src/store/shamir.ts (log/antilog tables over generator 3 instead of the
TypeScript code's constant-time shift-and-add), following the layout of Vault's `shamir` package:
polynomial 0x11B, share = y-bytes || x (x LAST), x coordinates distinct in 1..255.

    python3 test/vectors/shamir_golden.py generate > test/vectors/shamir-golden.json
    python3 test/vectors/shamir_golden.py verify test/vectors/shamir-golden.json
"""
import itertools
import json
import secrets
import sys

EXP = [0] * 512
LOG = [0] * 256
v = 1
for i in range(255):
    EXP[i] = v
    LOG[v] = i
    # multiply by the generator 3 = x + 1: v*2 xor v, reduced by 0x11B
    v2 = v << 1
    if v2 & 0x100:
        v2 ^= 0x11B
    v = v2 ^ v
for i in range(255, 512):
    EXP[i] = EXP[i - 255]


def gmul(a, b):
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def gdiv(a, b):
    if b == 0:
        raise ZeroDivisionError
    if a == 0:
        return 0
    return EXP[(LOG[a] - LOG[b]) % 255]


def split(secret, parts, threshold):
    xs = list(range(1, 256))
    for i in range(254, 0, -1):
        j = secrets.randbelow(i + 1)
        xs[i], xs[j] = xs[j], xs[i]
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coeffs = [byte] + [secrets.randbelow(256) for _ in range(threshold - 1)]
        for p in range(parts):
            x = xs[p]
            y = 0
            xp = 1
            for c in coeffs:  # plain power sum, not Horner, to differ from the TypeScript code
                y ^= gmul(c, xp)
                xp = gmul(xp, x)
            shares[p].append(y)
    return [bytes(s) + bytes([xs[p]]) for p, s in enumerate(shares)]


def combine(shares):
    xs = [s[-1] for s in shares]
    assert len(set(xs)) == len(xs), "duplicate part detected"
    out = bytearray()
    for idx in range(len(shares[0]) - 1):
        acc = 0
        for i, si in enumerate(shares):
            num, den = 1, 1
            for j, xj in enumerate(xs):
                if i != j:
                    num = gmul(num, xj)
                    den = gmul(den, xs[i] ^ xj)
            acc ^= gmul(si[idx], gdiv(num, den))
        out.append(acc)
    return bytes(out)


def known_answers():
    return {
        "mult": [[3, 7, gmul(3, 7)], [0x53, 0xCA, gmul(0x53, 0xCA)], [0x57, 0x83, gmul(0x57, 0x83)]],
        "div": [[6, 3, gdiv(6, 3)], [0, 7, gdiv(0, 7)]],
        "add": [[3, 4, 3 ^ 4]],
    }


def generate():
    cases = []
    for name, secret, parts, threshold in [
        ("32-byte unseal key, 5/3", secrets.token_bytes(32), 5, 3),
        ("ascii secret, 5/3", b"edgex secret-store golden vector", 5, 3),
        ("2-byte secret, 3/2", secrets.token_bytes(2), 3, 2),
        ("32-byte key, 10/10", secrets.token_bytes(32), 10, 10),
    ]:
        shares = split(secret, parts, threshold)
        if combine(shares[:threshold]) != secret:
            raise SystemExit("self-check failed")
        cases.append({
            "name": name,
            "secret_hex": secret.hex(),
            "parts": parts,
            "threshold": threshold,
            "shares_hex": [s.hex() for s in shares],
        })
    doc = {
        "source": "test/vectors/shamir_golden.py (independent Python GF(2^8), generated once; see README-shamir.md)",
        "layout": "share = y bytes || x (x last), GF(2^8) poly 0x11B",
        "known_answers": known_answers(),
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


def verify(path):
    with open(path) as f:
        doc = json.load(f)
    assert doc["known_answers"] == known_answers(), "known answers differ"
    for case in doc["cases"]:
        secret = bytes.fromhex(case["secret_hex"])
        shares = [bytes.fromhex(h) for h in case["shares_hex"]]
        t = case["threshold"]
        n = 0
        for combo in itertools.permutations(shares, t) if len(shares) <= 5 else [shares[:t]]:
            assert combine(list(combo)) == secret, case["name"]
            n += 1
        print(f"ok {case['name']}: {n} ordered {t}-subsets recombine")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "generate":
        generate()
    elif len(sys.argv) >= 3 and sys.argv[1] == "verify":
        verify(sys.argv[2])
    else:
        raise SystemExit(__doc__)
