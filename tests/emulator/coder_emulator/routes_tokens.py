"""API tokens (reference section 10)."""

import datetime as dt
import secrets

from . import roles as rbac
from .routes_users import target_user
from .server import empty, json_resp
from .util import ApiError, decode_body, forbidden, go_duration, not_found, now

NS = 1_000_000_000
DEFAULT_LIFETIME = dt.timedelta(days=7)
MAX_LIFETIME = dt.timedelta(days=365 * 100)      # --max-token-lifetime default (~100 years)
MAX_ADMIN_LIFETIME = dt.timedelta(days=7)        # --max-admin-token-lifetime default
_LEGACY_SCOPES = {"all": "coder:all", "application_connect": "coder:application_connect"}

_ADJECTIVES = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "proud"]
_NOUNS = ["otter", "falcon", "panda", "tiger", "koala", "heron", "lynx", "badger", "gecko", "walrus"]


def _max_lifetime(user) -> dt.timedelta:
    return MAX_ADMIN_LIFETIME if rbac.is_owner(user) else MAX_LIFETIME


def _token_owner(req):
    user = target_user(req)
    # Creating/listing/deleting keys of someone else needs API-key permissions only owners hold.
    if user.id != req.actor.id and not rbac.is_owner(req.actor):
        raise forbidden()
    if user.deleted:
        raise not_found()
    return user


def create_token(req):
    state = req.state
    user = _token_owner(req)
    body = decode_body(req.body, "CreateTokenRequest",
                       {"token_name": "str", "lifetime": "int", "scope": "str", "scopes": "strs", "allow_list": "any"})
    scopes = list(body["scopes"] or [])
    if body["scope"]:
        if body["scope"] not in _LEGACY_SCOPES:
            raise ApiError(400, "Failed to validate create API key request.",
                           f'invalid API key scope "{body["scope"]}"')
        scopes.append(_LEGACY_SCOPES[body["scope"]])
    scopes = scopes or ["coder:all"]
    lifetime_ns = body["lifetime"]
    lifetime = dt.timedelta(seconds=lifetime_ns / NS) if lifetime_ns > 0 else DEFAULT_LIFETIME
    limit = _max_lifetime(user)
    if lifetime > limit:
        raise ApiError(400, "Failed to validate create API key request.",
                       f"lifetime must be less than {go_duration(limit.total_seconds())}")
    name = body["token_name"] or f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(2)}"
    with state.lock:
        if any(k.token_name == name and k.login_type == "token" for k in state.user_keys(user.id)):
            raise ApiError(409, f'A token with name "{name}" already exists.',
                           validations=[{"field": "name",
                                         "detail": "This value is already in use and should be unique."}])
        key, token = state.create_key(user.id, "token", lifetime, token_name=name)
        key.scopes = scopes
    return json_resp(201, {"key": token})


def list_tokens(req):
    state = req.state
    user = _token_owner(req)
    include_expired = req.q("include_expired").lower() in ("1", "t", "true")
    t = now()
    with state.lock:
        keys = [k for k in state.user_keys(user.id)
                if k.login_type == "token" and (include_expired or k.expires_at > t)]
        keys.sort(key=lambda k: k.created_at)
        return json_resp(200, [state.key_json(k) for k in keys])


def get_token_by_name(req):
    state = req.state
    user = _token_owner(req)
    with state.lock:
        for k in state.user_keys(user.id):
            if k.login_type == "token" and k.token_name == req.params["keyname"]:
                return json_resp(200, state.key_json(k))
    raise not_found()


def token_config(req):
    user = _token_owner(req)
    return json_resp(200, {"max_token_lifetime": int(_max_lifetime(user).total_seconds()) * NS})


def delete_key(req):
    state = req.state
    user = _token_owner(req)
    with state.lock:
        key = state.keys.get(req.params["keyid"])
        if key is None or key.user_id != user.id:
            raise not_found()
        del state.keys[key.id]
    return empty(204)


def expire_key(req):
    state = req.state
    user = _token_owner(req)
    with state.lock:
        key = state.keys.get(req.params["keyid"])
        if key is None or key.user_id != user.id:
            raise not_found()
        key.expires_at = now()
    return empty(204)


def register(router):
    router.add("POST", "/users/{user}/keys/tokens", create_token)
    router.add("GET", "/users/{user}/keys/tokens", list_tokens)
    router.add("GET", "/users/{user}/keys/tokens/tokenconfig", token_config)
    router.add("GET", "/users/{user}/keys/tokens/{keyname}", get_token_by_name)
    router.add("DELETE", "/users/{user}/keys/{keyid}", delete_key)
    router.add("PUT", "/users/{user}/keys/{keyid}/expire", expire_key)
