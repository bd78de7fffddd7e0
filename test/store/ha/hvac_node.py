"""Drives one node (active or standby) of an HA cluster of `secretstore-setup serve` with the real Python client hvac
(Debian python3-hvac): what it sees of the cluster, and KV v2 and token calls (a standby forwards them to the active
node).

Usage: /usr/bin/python3 hvac_node.py <node-url> <label>   (the token in the environment variable VAULT_TOKEN)
Prints exactly one JSON object on stdout: {"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}}. The test
asserts the facts; this script asserts nothing. No secret is printed.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "helpers"))
from hvac_steps import hvac, report, step, steps  # noqa: E402,F401 - the shared frame (test/helpers/hvac_steps.py)

URL = sys.argv[1]
LABEL = sys.argv[2]


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
    path = "hvac-" + LABEL
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={"via": LABEL}, mount_point="secret")
    read = client.secrets.kv.v2.read_secret_version(path=path, mount_point="secret")
    listed = client.secrets.kv.v2.list_secrets(path="", mount_point="secret")
    return {"data": read["data"]["data"], "listed": path in listed["data"]["keys"]}


def token():
    created = client.auth.token.create(policies=["default"], ttl="1h")
    return {"token_shape": created["auth"]["client_token"][:4], "policies": created["auth"]["policies"]}


step("leader", leader)
step("health", health)
step("authenticated", authenticated)
step("kv", kv)
step("token", token)
report()
