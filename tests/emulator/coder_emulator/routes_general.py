"""GET /api/v2/, /buildinfo and /entitlements (reference section 2)."""

from .server import json_resp
from .util import fmt_time, now

# codersdk.FeatureNames of a current premium build.
FEATURES = [
    "user_limit", "audit_log", "connection_log", "browser_only", "scim", "template_rbac", "high_availability",
    "multiple_external_auth", "external_provisioner_daemons", "appearance", "advanced_template_scheduling",
    "workspace_proxy", "user_role_management", "external_token_encryption", "workspace_batch_actions",
    "access_control", "control_shared_ports", "custom_roles", "multiple_organizations", "workspace_prebuilds",
    "aibridge", "service_accounts",
]
# Seat count of the emulated premium license; not enforced, only reported.
USER_LIMIT = 1000


def feature_enabled(state, name) -> bool:
    return state.license == "premium" and name in FEATURES


def entitlements(state) -> dict:
    premium = state.license == "premium"
    features = {}
    for name in FEATURES:
        if not premium:
            features[name] = {"entitlement": "not_entitled", "enabled": False}
            continue
        f = {"entitlement": "entitled", "enabled": True}
        if name == "user_limit":
            f["limit"] = USER_LIMIT
            f["actual"] = sum(1 for u in state.users.values() if not u.deleted and u.status == "active")
        features[name] = f
    return {
        "features": features,
        "warnings": [],
        "errors": [],
        "has_license": premium,
        "trial": False,
        "require_telemetry": False,
        "refreshed_at": fmt_time(now()),
    }


def api_root(req):
    return json_resp(200, {"message": "👋"})


def buildinfo(req):
    url = req.app.url
    return json_resp(200, {
        "external_url": url,
        "version": req.state.version,
        "dashboard_url": url,
        "telemetry": False,
        "workspace_proxy": False,
        # Values of a v2.34-era build; clients only display them.
        "agent_api_version": "2.6",
        "provisioner_api_version": "1.10",
        "upgrade_message": "",
        "deployment_id": req.state.deployment_id,
    })


def get_entitlements(req):
    return json_resp(200, entitlements(req.state))


def register(router):
    router.add("GET", "/", api_root, auth=False)
    router.add("GET", "/buildinfo", buildinfo, auth=False)
    router.add("GET", "/entitlements", get_entitlements, auth=False)
