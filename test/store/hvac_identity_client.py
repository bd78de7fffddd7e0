"""Drives a running `secretstore-setup serve` through its identity features with the real Python client hvac
(Debian python3-hvac 0.11.2): the userpass auth method, identity entities and aliases, OIDC identity tokens and
token roles — every call through hvac's own methods (none of these needed a raw `client.adapter` request in 0.11).

Usage: /usr/bin/python3 hvac_identity_client.py <base-url>
Prints exactly one JSON object on stdout: {"hvac_version": ..., "steps": {name: {"ok": bool, ...facts}}}.
Every step records what hvac returned (or the exception class and message it raised), and the script goes on
after a failed step where it can, so one run reports every incompatibility. The test asserts the facts; this
script asserts nothing. No secret is printed: passwords, tokens, ids and JWTs are reported only as comparisons,
lengths and shapes.
"""
import base64
import json
import re
import secrets
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from hvac_steps import hvac, report, step, steps  # noqa: E402,F401 - the shared frame (test/helpers/hvac_steps.py)

URL = sys.argv[1]


def status_of(resp):
    """hvac's JSONAdapter returns a dict for 200 and the requests.Response for anything else (e.g. 204)."""
    return 200 if isinstance(resp, dict) else getattr(resp, "status_code", None)


def raised(fn):
    """Calls fn; the hvac exception it raised as {"exception", "errors"}, or {"exception": None} when none."""
    try:
        fn()
    except hvac.exceptions.VaultError as err:
        return {"exception": type(err).__name__, "errors": list(getattr(err, "errors", None) or [])}
    return {"exception": None}


def new_client(token=None):
    return hvac.Client(url=URL, token=token, timeout=10)


def password(user):
    """A fresh password with a fixed marker, so the test can check that none reached the server's log."""
    return "s3cret-" + user + "-" + secrets.token_hex(16)


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def tamper(jwt):
    """Flips one character in the middle of the payload (a valid base64url character for another)."""
    header, payload, signature = jwt.split(".")
    i = len(payload) // 2
    flipped = payload[:i] + ("B" if payload[i] == "A" else "A") + payload[i + 1 :]
    return ".".join([header, flipped, signature])


client = new_client()
state = {}

APP_POLICY = {"path": {"secret/edgex/app-a/*": {"capabilities": ["create", "read", "update", "delete", "list"]}}}
SERVICE_POLICY = {
    "path": {
        "secret/edgex/edgex-app/*": {"capabilities": ["create", "read", "update", "delete", "list"]},
        "identity/oidc/token/edgex-app": {"capabilities": ["read"]},
        "identity/oidc/introspect": {"capabilities": ["create", "update"]},
    }
}


def init():
    result = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.token = result["root_token"]
    unsealed = client.sys.submit_unseal_key(result["keys"][0])
    return {"sealed_after": unsealed["sealed"], "t": unsealed["t"], "n": unsealed["n"]}


def userpass():
    """sys.enable_auth_method / list_auth_methods, the KV v1 secret/ mount and the two policies (dicts: JSON text)."""
    enabled = client.sys.enable_auth_method("userpass")
    again = raised(lambda: client.sys.enable_auth_method("userpass"))
    methods = client.sys.list_auth_methods()
    accessor = methods["data"]["userpass/"]["accessor"]
    state["accessor"] = accessor
    client.sys.enable_secrets_engine("kv", path="secret", options={"version": "1"})
    client.sys.create_or_update_policy(name="app-a", policy=APP_POLICY)
    client.sys.create_or_update_policy(name="edgex-service-edgex-app", policy=SERVICE_POLICY)
    return {
        "enable_status": status_of(enabled),
        "enable_again": again,
        "types": {k: v["type"] for k, v in methods["data"].items()},
        "accessor_shape": re.fullmatch(r"auth_userpass_[0-9a-f]{8}", accessor) is not None,
    }


def user():
    """auth.userpass.create_or_update_user with token_policies and token_period (sent through its **kwargs)."""
    state["pw_a"] = password("app-a")
    created = client.auth.userpass.create_or_update_user(username="app-a", password=state["pw_a"], token_policies=["app-a"], token_period="1h")
    read = client.auth.userpass.read_user("app-a")["data"]
    listed = client.auth.userpass.list_user()["data"]["keys"]
    return {
        "create_status": status_of(created),
        "token_policies": read["token_policies"],
        "token_period": read["token_period"],
        "password_shown": any("password" in k for k in read),
        "listed": listed,
        "no_password": raised(lambda: client.auth.userpass.create_or_update_user(username="nopw")),
    }


def login():
    """auth.userpass.login: a wrong password, then the real one (hvac adopts the token). No alias exists yet, so
    Vault creates an entity (and its alias) for the user on this first login."""
    app = new_client()
    bad = raised(lambda: app.auth.userpass.login("app-a", "wrong"))
    unknown = raised(lambda: app.auth.userpass.login("nobody", "wrong"))
    answer = app.auth.userpass.login("app-a", state["pw_a"])
    auth = answer["auth"]
    state["app_a"] = app
    state["app_a_entity"] = auth["entity_id"]
    state["app_a_accessor"] = auth["accessor"]
    return {
        "bad_password": bad,
        "unknown_user": unknown,
        "token_adopted": app.token == auth["client_token"],
        "token_shape": re.fullmatch(r"hvs\.[0-9A-Za-z]{24}", auth["client_token"]) is not None,
        "is_authenticated": app.is_authenticated(),
        "policies": auth["policies"],
        "token_policies": auth["token_policies"],
        "identity_policies": auth.get("identity_policies", "absent"),
        "metadata": auth["metadata"],
        "lease_duration": auth["lease_duration"],
        "renewable": auth["renewable"],
        "orphan": auth["orphan"],
        "entity_id_shape": re.fullmatch(r"[0-9a-f-]{36}", auth["entity_id"]) is not None,
    }


def lookup_self():
    """auth.token.lookup_self and renew_self with the login token, and its KV access through token_policies."""
    app = state["app_a"]
    me = app.auth.token.lookup_self()["data"]
    renewed = app.auth.token.renew_self()
    app.secrets.kv.v1.create_or_update_secret(path="edgex/app-a/db", secret={"user": "a"}, mount_point="secret")
    read = app.secrets.kv.v1.read_secret(path="edgex/app-a/db", mount_point="secret")
    return {
        "policies": me["policies"],
        "identity_policies": me.get("identity_policies", "absent"),
        "period": me.get("period"),
        "renewable": me["renewable"],
        "path": me["path"],
        "display_name": me["display_name"],
        "meta": me["meta"],
        "orphan": me["orphan"],
        "entity_matches_login": me["entity_id"] == state["app_a_entity"],
        "accessor_matches_login": me["accessor"] == state["app_a_accessor"],
        "renew_lease_duration": renewed["auth"]["lease_duration"],
        "kv_read": read["data"],
        "kv_denied": raised(lambda: app.secrets.kv.v1.read_secret(path="edgex/edgex-app/db", mount_point="secret")),
    }


def entity():
    """secrets.identity: create (200 with the id) and update (204) by name, read by name and id, list by name."""
    identity = client.secrets.identity
    body = {"name": "edgex-app", "metadata": {"name": "edgex-app"}, "policies": ["edgex-service-edgex-app"]}
    created = identity.create_or_update_entity_by_name(**body)
    entity_id = created["data"]["id"]
    state["entity_id"] = entity_id
    updated = identity.create_or_update_entity_by_name(**body)
    by_name = identity.read_entity_by_name("edgex-app")["data"]
    by_id = identity.read_entity(entity_id)["data"]
    auto = identity.read_entity(state["app_a_entity"])["data"]
    listed = identity.list_entities_by_name()["data"]["keys"]
    return {
        "create_status": status_of(created),
        "created_name": created["data"]["name"],
        "id_shape": re.fullmatch(r"[0-9a-f-]{36}", entity_id) is not None,
        "update_status": status_of(updated),
        "by_name": {
            "id_matches": by_name["id"] == entity_id,
            "name": by_name["name"],
            "policies": by_name["policies"],
            "metadata": by_name["metadata"],
            "disabled": by_name["disabled"],
            "aliases": by_name["aliases"],
        },
        "by_id_name": by_id["name"],
        "login_entity": {
            "name_shape": re.fullmatch(r"entity_[0-9a-f]{8}", auto["name"]) is not None,
            "policies": auto["policies"],
            "aliases": [[a["name"], a["mount_type"], a["mount_accessor"] == state["accessor"]] for a in auto["aliases"]],
        },
        "listed": sorted("entity_*" if k == auto["name"] else k for k in listed),
    }


def alias():
    """The EdgeX binding: a user, an alias of it on the userpass accessor for the entity, then its login."""
    identity = client.secrets.identity
    state["pw_svc"] = password("edgex-app")
    client.auth.userpass.create_or_update_user(username="edgex-app", password=state["pw_svc"], token_policies=[], token_period="1h")
    body = {"name": "edgex-app", "canonical_id": state["entity_id"], "mount_accessor": state["accessor"]}
    created = identity.create_or_update_entity_alias(**body)
    repeat = identity.create_or_update_entity_alias(**body)
    alias_id = created["data"]["id"]
    read = identity.read_entity_alias(alias_id)["data"]
    svc = new_client()
    auth = svc.auth.userpass.login("edgex-app", state["pw_svc"])["auth"]
    state["svc"] = svc
    state["svc_accessor"] = auth["accessor"]
    return {
        "create_status": status_of(created),
        "canonical_matches": created["data"]["canonical_id"] == state["entity_id"],
        "repeat_status": status_of(repeat),
        "read": {
            "name": read["name"],
            "mount_type": read["mount_type"],
            "mount_path": read["mount_path"],
            "accessor_matches": read["mount_accessor"] == state["accessor"],
            "canonical_matches": read["canonical_id"] == state["entity_id"],
        },
        "login_entity_matches": auth["entity_id"] == state["entity_id"],
        "login_policies": auth["policies"],
        "login_token_policies": auth["token_policies"],
        "login_identity_policies": auth.get("identity_policies", "absent"),
        "kv_by_entity_policy": status_of(svc.secrets.kv.v1.create_or_update_secret(path="edgex/edgex-app/db", secret={"u": "s"}, mount_point="secret")),
    }


def oidc():
    """secrets.identity named keys and roles (no key listed before: 404), and the issuer configuration."""
    identity = client.secrets.identity
    before = raised(lambda: identity.list_named_keys())
    key = identity.create_named_key(name="edgex-identity", allowed_client_ids=["*"], algorithm="ES384")
    role = identity.create_or_update_role(name="edgex-app", key="edgex-identity", template='{"name": "edgex-app"}', client_id="edgex", ttl="15m")
    return {
        "keys_before": before,
        "key_status": status_of(key),
        "key_read": identity.read_named_key("edgex-identity")["data"],
        "keys": identity.list_named_keys()["data"]["keys"],
        "role_status": status_of(role),
        "role_read": identity.read_role("edgex-app")["data"],
        "roles": identity.list_roles()["data"]["keys"],
        "config": identity.read_tokens_backend_configuration()["data"],
        "missing_key": raised(lambda: identity.create_or_update_role(name="other", key="no-such-key")),
    }


def id_token():
    """generate_signed_id_token with the service token, introspect_signed_id_token, the JWKS and discovery."""
    svc = state["svc"]
    issued = svc.secrets.identity.generate_signed_id_token("edgex-app")["data"]
    jwt = issued["token"]
    header = b64url_json(jwt.split(".")[0])
    claims = b64url_json(jwt.split(".")[1])
    anon = new_client()
    jwks = anon.secrets.identity.read_active_public_keys()
    discovery = anon.secrets.identity.read_well_known_configurations()
    wrong_client = svc.secrets.identity.introspect_signed_id_token(jwt, client_id="other")
    tampered = svc.secrets.identity.introspect_signed_id_token(tamper(jwt))
    return {
        "client_id": issued["client_id"],
        "ttl": issued["ttl"],
        "jwt_parts": len(jwt.split(".")),
        "header": {"alg": header["alg"], "kid_in_jwks": header.get("kid") in [k.get("kid") for k in jwks["keys"]]},
        "claims": {
            "iss": claims["iss"],
            "aud": claims["aud"],
            "sub_is_entity": claims["sub"] == state["entity_id"],
            "name": claims.get("name"),
            "namespace": claims.get("namespace"),
            "lifetime": claims["exp"] - claims["iat"],
        },
        "introspect": svc.secrets.identity.introspect_signed_id_token(jwt),
        "introspect_by_root": client.secrets.identity.introspect_signed_id_token(jwt, client_id="edgex"),
        "introspect_wrong_client": {"active": wrong_client["active"], "error_is_text": isinstance(wrong_client.get("error"), str)},
        "tampered": {"active": tampered["active"], "keys": sorted(tampered), "error_is_text": isinstance(tampered.get("error"), str)},
        "introspect_without_capability": raised(lambda: state["app_a"].secrets.identity.introspect_signed_id_token(jwt)),
        "no_entity": raised(lambda: client.secrets.identity.generate_signed_id_token("edgex-app")),
        "other_role": raised(lambda: state["app_a"].secrets.identity.generate_signed_id_token("edgex-app")),
        "jwks": [{"kty": k["kty"], "crv": k.get("crv"), "alg": k.get("alg"), "use": k.get("use"), "private": "d" in k} for k in jwks["keys"]],
        "discovery": {"issuer": discovery["issuer"], "jwks_uri": discovery["jwks_uri"]},
    }


def token_role():
    """auth.token role create/read/list, then auth.token.create(role_name=..., entity_alias=...)."""
    token = client.auth.token
    created = token.create_or_update_role(
        "edgex-app", allowed_policies=["edgex-service-edgex-app"], orphan=True, renewable=True, allowed_entity_aliases=["edgex-app"]
    )
    read = token.read_role("edgex-app")["data"]
    made = token.create(role_name="edgex-app", entity_alias="edgex-app")["auth"]
    again = token.create(role_name="edgex-app", entity_alias="EDGEX-APP")["auth"]
    looked = token.lookup(made["client_token"])["data"]
    state["role_accessors"] = [made["accessor"], again["accessor"]]
    holder = new_client(made["client_token"])
    return {
        "create_status": status_of(created),
        "read": {k: read[k] for k in ("name", "allowed_policies", "allowed_entity_aliases", "orphan", "renewable", "token_period", "token_type")},
        "roles": token.list_roles()["data"]["keys"],
        "policies": made["policies"],
        "orphan": made["orphan"],
        "renewable": made["renewable"],
        # Vault resolves entity_alias on the TOKEN auth mount: an entity of its own, not the userpass one.
        "entity_is_userpass_entity": made["entity_id"] == state["entity_id"],
        "entity_shape": re.fullmatch(r"[0-9a-f-]{36}", made["entity_id"]) is not None,
        "alias_case_insensitive_same_entity": again["entity_id"] == made["entity_id"],
        "lookup": {"role": looked.get("role"), "path": looked["path"], "display_name": looked["display_name"], "entity_matches": looked["entity_id"] == made["entity_id"]},
        "kv_read": holder.secrets.kv.v1.read_secret(path="edgex/edgex-app/db", mount_point="secret")["data"],
        "disallowed_alias": raised(lambda: token.create(role_name="edgex-app", entity_alias="app-a")),
        "alias_without_role": raised(lambda: token.create(entity_alias="edgex-app")),
        "unknown_role": raised(lambda: token.create(role_name="no-such-role")),
    }


def accessors():
    """auth.token.list_accessors (LIST, sudo) and lookup_accessor."""
    listed = client.auth.token.list_accessors()["data"]["keys"]
    mine = client.auth.token.lookup_self()["data"]["accessor"]
    expected = [mine, state["app_a_accessor"], state["svc_accessor"]] + state["role_accessors"]
    by_accessor = client.auth.token.lookup_accessor(state["svc_accessor"])["data"]
    return {
        "count": len(listed),
        "includes_every_token": all(a in listed for a in expected),
        "lookup_accessor": {
            "policies": by_accessor["policies"],
            "identity_policies": by_accessor.get("identity_policies", "absent"),
            "entity_matches": by_accessor["entity_id"] == state["entity_id"],
            "id_hidden": by_accessor.get("id") == "",
        },
        "without_sudo": raised(lambda: state["svc"].auth.token.list_accessors()),
    }


# Each later step needs the earlier ones; the oidc and token-role steps need the alias step's service token.
if step("init", init) is not None and step("userpass", userpass) is not None and step("user", user) is not None:
    if step("login", login) is not None:
        step("lookup_self", lookup_self)
        if step("entity", entity) is not None and step("alias", alias) is not None:
            if step("oidc", oidc) is not None:
                step("id_token", id_token)
            if step("token_role", token_role) is not None:
                step("accessors", accessors)

report()
