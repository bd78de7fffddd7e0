"""Drives a STANDBY node of an HA cluster of `secretstore-setup serve` with the real Python client hvac (Debian
python3-hvac): what it sees of the cluster, and KV v2 and token calls that the standby forwards to the active node.

Usage: /usr/bin/python3 hvac_standby.py <standby-url>   (the token in the environment variable VAULT_TOKEN)
Prints exactly one JSON object on stdout: {"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}}. The test
asserts the facts; this script asserts nothing. No secret is printed.
"""
import json
import os
import sys

try:
    import hvac
except ImportError as err:  # the test turns this into a skip (or a failure under CI)
    print(json.dumps({"import_error": str(err)}))
    sys.exit(3)

try:
    from importlib.metadata import version as _dist_version

    HVAC_VERSION = _dist_version("hvac")
except Exception:  # noqa: BLE001 - metadata missing is not fatal
    HVAC_VERSION = "unknown"

URL = sys.argv[1]
steps = {}


def step(name, fn):
    try:
        facts = fn() or {}
        steps[name] = dict(ok=True, **facts)
    except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
        steps[name] = {"ok": False, "exception": type(err).__name__, "message": str(err)[:300]}


client = hvac.Client(url=URL, token=os.environ.get("VAULT_TOKEN", ""))


def leader():
    r = client.sys.read_leader_status()
    return {"ha_enabled": r["ha_enabled"], "is_self": r["is_self"], "leader_address": r["leader_address"]}


def health():
    # hvac does not raise for the health endpoint's non-200 codes; it hands back the response.
    r = client.sys.read_health_status(method="GET")
    status = getattr(r, "status_code", 200)
    body = r.json() if hasattr(r, "json") else r
    return {"status": status, "standby": body["standby"], "sealed": body["sealed"]}


def authenticated():
    return {"authenticated": client.is_authenticated()}


def kv():
    client.secrets.kv.v2.create_or_update_secret(path="hvac-ha", secret={"via": "standby"}, mount_point="secret")
    read = client.secrets.kv.v2.read_secret_version(path="hvac-ha", mount_point="secret")
    listed = client.secrets.kv.v2.list_secrets(path="", mount_point="secret")
    return {"data": read["data"]["data"], "keys": listed["data"]["keys"]}


def token():
    created = client.auth.token.create(policies=["default"], ttl="1h")
    return {"token_shape": created["auth"]["client_token"][:4], "policies": created["auth"]["policies"]}


step("leader", leader)
step("health", health)
step("authenticated", authenticated)
step("kv", kv)
step("token", token)
print(json.dumps({"hvac_version": HVAC_VERSION, "steps": steps}))
