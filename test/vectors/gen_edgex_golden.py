#!/usr/bin/env python3
"""Independent implementation of EdgeX's Vault Master Key Encryption (HKDF-SHA256 + AES-256-GCM) and of our v2
format, used to make golden key files that the TypeScript implementation must decrypt. Written from EdgeX's
documented algorithm and from docs/key-file-formats.md, not from our code. Requires python3 with `cryptography` (tested with 48).

    python3 test/vectors/gen_edgex_golden.py > test/vectors/edgex-golden.json       # regenerate
    python3 test/vectors/gen_edgex_golden.py --decrypt DIR IKM_HEX                   # decrypt DIR/resp-init.json (edgex or v2)

Nonces and salts are derived deterministically (SHA-256 of the case name) so the output is reproducible; EdgeX
itself draws them at random, which does not change the format.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def det(name: str, what: str, n: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{name}/{what}/{counter}".encode()).digest()
        counter += 1
    return out[:n]


def compact(obj) -> str:
    # Go's json.Marshal: no spaces; EdgeX adds a trailing newline when writing the file.
    return json.dumps(obj, separators=(",", ":")) + "\n"


def edgex_case(name: str, label: str, share_count: int, share_len: int, root_token=None):
    ikm = det(name, "ikm", 32)
    salt = det(name, "salt", 32)
    shares = [det(name, f"share{i}", share_len) for i in range(share_count)]
    encrypted, nonces = [], []
    for i, share in enumerate(shares):
        key = hkdf(ikm, salt, f"{label}{i}".encode())
        nonce = det(name, f"nonce{i}", 12)
        encrypted.append(AESGCM(key).encrypt(nonce, share, None).hex())
        nonces.append(nonce.hex())
    doc = {"encrypted_keys": encrypted, "nonces": nonces}
    if root_token is not None:
        doc["root_token"] = root_token  # EdgeX leaves it in plaintext when RevokeRootTokens=false
    return {
        "name": name,
        "label": label,
        "ikm": ikm.hex(),
        "salt": salt.hex(),
        "key_file": compact(doc),
        "shares": [s.hex() for s in shares],
        "root_token": root_token,
    }


def plaintext_case(name: str, share_count: int, share_len: int, root_token: str):
    shares = [det(name, f"share{i}", share_len) for i in range(share_count)]
    doc = {
        "keys": [s.hex() for s in shares],
        "keys_base64": [base64.b64encode(s).decode() for s in shares],
        "root_token": root_token,
    }
    return {"name": name, "key_file": compact(doc), "shares": [s.hex() for s in shares], "root_token": root_token}


def v2_case(name: str, share_count: int, share_len: int, threshold, root_token=None):
    """Our v2 format, written from docs/key-file-formats.md alone."""
    ikm = det(name, "ikm", 32)
    salt = det(name, "salt", 32)
    shares = [det(name, f"share{i}", share_len) for i in range(share_count)]

    def aad(purpose, index):
        return json.dumps(["secretstore-setup/keyfile", 2, purpose, index, share_count, threshold or 0, share_len],
                          separators=(",", ":")).encode()

    def box(info, purpose, index, plaintext, nonce_name):
        nonce = det(name, nonce_name, 12)
        sealed = AESGCM(hkdf(ikm, salt, info.encode())).encrypt(nonce, plaintext, aad(purpose, index))
        return {"nonce": nonce.hex(), "ciphertext": sealed.hex()}

    doc = {
        "format": "secretstore-setup/keyfile",
        "version": 2,
        "kdf": "hkdf-sha256",
        "cipher": "aes-256-gcm",
        "salt": salt.hex(),
        "key_check": hkdf(ikm, salt, b"secretstore-setup/v2/key-check").hex(),
        "share_count": share_count,
        "share_length": share_len,
        "threshold": threshold,
        "shares": [box(f"secretstore-setup/v2/share/{i}", "share", i, s, f"nonce{i}") for i, s in enumerate(shares)],
        "root_token": None if root_token is None else box("secretstore-setup/v2/root-token", "root-token", 0,
                                                           root_token.encode(), "nonce-root"),
    }
    return {"name": name, "ikm": ikm.hex(), "key_file": compact(doc), "shares": [s.hex() for s in shares],
            "threshold": threshold, "root_token": root_token}


def generate():
    return {
        "source": "test/vectors/gen_edgex_golden.py (python3 + cryptography, independent of the TypeScript code)",
        "edgex": [
            edgex_case("edgex-v4-five-shares", "secretstore", 5, 33),
            edgex_case("edgex-v3-vault-labels", "vault", 3, 33),
            edgex_case("edgex-v4-single-key", "secretstore", 1, 32),
            edgex_case("edgex-v4-root-token-kept", "secretstore", 2, 33, "s.b4Vb3yZJvYrKjIgdGAJ7hQr1"),
        ],
        "plaintext": [plaintext_case("vault-init-five-shares", 5, 33, "hvs.CAESIJ9cQ0V0NWZ2cGhaVmF0bGVzdA")],
        "v2": [
            v2_case("v2-five-shares-root-token", 5, 33, 3, "hvs.CAESIJ9cQ0V0NWZ2cGhaVmF0bGVzdA"),
            v2_case("v2-single-key-no-threshold", 1, 32, None),
        ],
    }


def decrypt_v2(doc, ikm: bytes):
    """Decrypts our v2 format, from docs/key-file-formats.md alone; refuses anything not exactly as documented."""
    assert doc["format"] == "secretstore-setup/keyfile" and doc["version"] == 2, "not a v2 document"
    assert doc["kdf"] == "hkdf-sha256" and doc["cipher"] == "aes-256-gcm", "unexpected algorithms"
    salt = bytes.fromhex(doc["salt"])
    assert len(salt) == 32, "salt must be 32 bytes"
    assert hkdf(ikm, salt, b"secretstore-setup/v2/key-check").hex() == doc["key_check"], "key check: wrong IKM"
    count, length, threshold = doc["share_count"], doc["share_length"], doc["threshold"]
    assert len(doc["shares"]) == count, "share count"

    def aad(purpose, index):
        return json.dumps(["secretstore-setup/keyfile", 2, purpose, index, count, threshold or 0, length],
                          separators=(",", ":")).encode()

    def open_box(info, purpose, index, box):
        key = hkdf(ikm, salt, info.encode())
        return AESGCM(key).decrypt(bytes.fromhex(box["nonce"]), bytes.fromhex(box["ciphertext"]), aad(purpose, index))

    keys = [open_box(f"secretstore-setup/v2/share/{i}", "share", i, box) for i, box in enumerate(doc["shares"])]
    assert all(len(k) == length for k in keys), "share length"
    token = None
    if doc["root_token"] is not None:
        token = open_box("secretstore-setup/v2/root-token", "root-token", 0, doc["root_token"]).decode()
    # The file must be byte-for-byte the canonical serialization (compact, this field order, one newline).
    return {"format": "v2", "keys": [k.hex() for k in keys], "threshold": threshold, "root_token": token}


def decrypt_edgex(folder: str, doc, ikm: bytes):
    with open(f"{folder}/kdf-salt.dat", "rb") as f:
        salt = f.read()
    assert len(salt) == 32, "kdf-salt.dat must be 32 bytes"
    assert len(doc["encrypted_keys"]) == len(doc["nonces"]), "as many nonces as keys"
    out = []
    for i, (ct, nonce) in enumerate(zip(doc["encrypted_keys"], doc["nonces"])):
        key = hkdf(ikm, salt, f"secretstore{i}".encode())
        out.append(AESGCM(key).decrypt(bytes.fromhex(nonce), bytes.fromhex(ct), None).hex())
    return {"format": "edgex", "keys": out, "threshold": None, "root_token": doc.get("root_token")}


def decrypt(folder: str, ikm_hex: str):
    """Decrypts DIR/resp-init.json (edgex with DIR/kdf-salt.dat, or v2) and prints the shares as JSON."""
    ikm = bytes.fromhex(ikm_hex)
    with open(f"{folder}/resp-init.json", "rb") as f:
        raw = f.read()
    doc = json.loads(raw)
    if "format" in doc:
        result = decrypt_v2(doc, ikm)
        assert compact(doc).encode() == raw, "the v2 file is not in canonical form"
    else:
        result = decrypt_edgex(folder, doc, ikm)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--decrypt":
        decrypt(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(generate(), indent=2))
