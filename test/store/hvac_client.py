"""Drives a running `secretstore-setup serve` with the real Python client hvac (Debian python3-hvac 0.11.2).

Usage: /usr/bin/python3 hvac_client.py <base-url>
Prints exactly one JSON object on stdout: {"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}}.
Every step records what hvac returned (or the exception class and message it raised), and the script goes on
after a failed step where it can, so one run reports every incompatibility. The test asserts the facts; this
script asserts nothing. No secret is printed: shares and tokens are reported only by length and shape.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hvac_steps import hvac, report, step, steps  # noqa: E402,F401 - the shared frame (test/helpers/hvac_steps.py)

URL = sys.argv[1]


def status_of(resp):
    """hvac's JSONAdapter returns a dict for 200 and the requests.Response for anything else (e.g. 204)."""
    return 200 if isinstance(resp, dict) else getattr(resp, "status_code", None)


client = hvac.Client(url=URL, timeout=10)
state = {}


def init():
    before = client.sys.is_initialized()
    result = client.sys.initialize(secret_shares=3, secret_threshold=2)
    state["keys"] = result["keys"]
    state["root"] = result["root_token"]
    return {
        "initialized_before": before,
        "initialized_after": client.sys.is_initialized(),
        "key_count": len(result["keys"]),
        "key_hex_lengths": sorted({len(k) for k in result["keys"]}),
        "keys_base64_count": len(result.get("keys_base64", [])),
        "root_token_prefix": result["root_token"][:4],
        "root_token_length": len(result["root_token"]),
    }


def bad_unseal():
    """Vault's conformance case: a key that is neither hex nor base64 is a 400, which hvac raises as InvalidRequest."""
    try:
        client.sys.submit_unseal_key("ThisKeyIsNeitherB64NorHex")
    except hvac.exceptions.InvalidRequest as err:
        return {"exception": "InvalidRequest", "errors": list(getattr(err, "errors", None) or [])}
    return {"exception": None}


def unseal():
    sealed_before = client.sys.is_sealed()
    first = client.sys.submit_unseal_key(state["keys"][0])
    last = client.sys.submit_unseal_keys(state["keys"][1:])
    return {
        "sealed_before": sealed_before,
        "progress_after_first": first["progress"],
        "t": first["t"],
        "n": first["n"],
        "sealed_after": last["sealed"],
        "is_sealed": client.sys.is_sealed(),
    }


def kv2():
    client.token = state["root"]
    client.sys.enable_secrets_engine("kv", path="kv2", options={"version": "2"})
    written = client.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"user": "edgex", "pw": "s3cr3t"}, mount_point="kv2")
    client.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"user": "edgex", "pw": "rotated"}, mount_point="kv2")
    client.secrets.kv.v2.create_or_update_secret(path="app/cache/redis", secret={"pw": "r"}, mount_point="kv2")
    read = client.secrets.kv.v2.read_secret_version(path="app/db", mount_point="kv2")
    first = client.secrets.kv.v2.read_secret_version(path="app/db", version=1, mount_point="kv2")
    listed = client.secrets.kv.v2.list_secrets(path="app", mount_point="kv2")
    missing = None
    try:
        client.secrets.kv.v2.read_secret_version(path="app/nothing", mount_point="kv2")
    except hvac.exceptions.InvalidPath:
        missing = "InvalidPath"
    return {
        "written_version": written["data"]["version"],
        "read_data": read["data"]["data"],
        "read_version": read["data"]["metadata"]["version"],
        "version1_data": first["data"]["data"],
        "list_keys": listed["data"]["keys"],
        "missing": missing,
    }


def kv1():
    client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    written = client.secrets.kv.v1.create_or_update_secret(path="edgex/core", secret={"token": "abc", "n": 3}, mount_point="kv1")
    read = client.secrets.kv.v1.read_secret(path="edgex/core", mount_point="kv1")
    listed = client.secrets.kv.v1.list_secrets(path="edgex", mount_point="kv1")
    mounts = client.sys.list_mounted_secrets_engines()
    return {
        "write_status": status_of(written),
        "read_data": read["data"],
        "list_keys": listed["data"]["keys"],
        "mount_types": {k: v["type"] for k, v in mounts["data"].items() if k in ("kv1/", "kv2/")},
        "kv2_options": mounts["data"]["kv2/"].get("options"),
    }


POLICY = 'path "kv2/data/app/*" {\n  capabilities = ["read"]\n}\n'


def policies():
    created = client.sys.create_or_update_policy(name="App-Read", policy=POLICY)
    read = client.sys.read_policy(name="app-read")
    listed = client.sys.list_policies()
    return {
        "create_status": status_of(created),
        "read_rules": read.get("rules", read.get("data", {}).get("rules")),
        "read_name": read.get("name", read.get("data", {}).get("name")),
        "listed": sorted(listed.get("policies", listed.get("data", {}).get("policies", []))),
    }


def tokens():
    created = client.auth.token.create(policies=["app-read"], ttl="1h")
    child = created["auth"]["client_token"]
    state["child"] = child
    app = hvac.Client(url=URL, token=child, timeout=10)
    me = app.auth.token.lookup_self()
    allowed = app.secrets.kv.v2.read_secret_version(path="app/db", mount_point="kv2")
    denied = None
    try:
        app.secrets.kv.v1.read_secret(path="edgex/core", mount_point="kv1")
    except hvac.exceptions.Forbidden as err:
        denied = {"exception": "Forbidden", "errors": list(getattr(err, "errors", None) or [])}
    renewed = app.auth.token.renew_self(increment="2h")
    revoked = app.auth.token.revoke_self()
    after = None
    try:
        app.auth.token.lookup_self()
    except hvac.exceptions.Forbidden:
        after = "Forbidden"
    return {
        "auth_policies": sorted(created["auth"]["policies"]),
        "token_prefix": child[:4],
        "renewable": created["auth"]["renewable"],
        "lease_duration": created["auth"]["lease_duration"],
        "lookup_policies": sorted(me["data"]["policies"]),
        "lookup_path": me["data"]["path"],
        "lookup_ttl_positive": me["data"]["ttl"] > 0,
        "allowed_read": allowed["data"]["data"]["user"],
        "denied": denied,
        "renew_lease_duration": renewed["auth"]["lease_duration"],
        "revoke_status": status_of(revoked),
        "after_revoke": after,
        "root_is_authenticated": client.is_authenticated(),
    }


def seal():
    sealed = client.sys.seal()
    sealed_read = None
    try:
        client.secrets.kv.v2.read_secret_version(path="app/db", mount_point="kv2")
    except hvac.exceptions.VaultDown as err:
        sealed_read = {"exception": "VaultDown", "errors": list(getattr(err, "errors", None) or [])}
    return {"seal_status": status_of(sealed), "is_sealed": client.sys.is_sealed(), "read_while_sealed": sealed_read}


# Each later step needs the earlier ones, except that seal is always attempted once the store was unsealed.
if step("init", init) is not None and step("bad_unseal", bad_unseal) is not None and step("unseal", unseal) is not None:
    step("kv2", kv2)
    step("kv1", kv1)
    step("policies", policies)
    step("tokens", tokens)
    step("seal", seal)

report()
