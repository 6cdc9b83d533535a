"""In-memory state of the emulated deployment, guarded by one re-entrant lock.

Lookups used on every request (token id, user id, lower-cased username/email, org id/name,
memberships, groups by id and by (org id, name), a user's groups) go through dictionaries so that
request cost does not grow with the user or group count.
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading

from . import roles as rbac
from .util import NIL_UUID, fmt_time, new_uuid, now, parse_uuid, rand_alnum, split_api_token

SESSION_LIFETIME = dt.timedelta(days=3650)  # the CLI token must outlive any test run


@dataclasses.dataclass
class User:
    id: str
    username: str
    email: str
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str = "dormant"
    login_type: str = "password"
    name: str = ""
    avatar_url: str = ""
    roles: list = dataclasses.field(default_factory=list)
    password_hash: str | None = None
    last_seen_at: dt.datetime | None = None
    deleted: bool = False
    is_service_account: bool = False
    github_com_user_id: int = 0
    theme_preference: str = ""


@dataclasses.dataclass
class Organization:
    id: str
    name: str
    display_name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    description: str = ""
    icon: str = ""
    is_default: bool = False


@dataclasses.dataclass
class Membership:
    organization_id: str
    user_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    roles: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Group:
    id: str
    organization_id: str
    name: str
    display_name: str = ""
    avatar_url: str = ""
    quota_allowance: int = 0
    source: str = "user"  # "oidc" for groups created by IdP group sync
    # Explicit members as an insertion-ordered set (user id -> None); unused for Everyone.
    members: dict = dataclasses.field(default_factory=dict)
    everyone: bool = False


EVERYONE = "Everyone"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclasses.dataclass
class ApiKey:
    id: str
    secret_hash: bytes
    user_id: str
    login_type: str
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime
    lifetime_seconds: int
    token_name: str = ""
    scopes: list = dataclasses.field(default_factory=lambda: ["coder:all"])
    last_used: dt.datetime | None = None


@dataclasses.dataclass
class WorkspaceApp:
    id: str
    slug: str
    display_name: str
    statuses: list = dataclasses.field(default_factory=list)  # [dict] newest last


@dataclasses.dataclass
class WorkspaceAgent:
    id: str
    name: str
    token: str  # UUIDv4 auth token; never shown by /api/v2
    resource_id: str
    build_id: str
    workspace_id: str
    created_at: dt.datetime
    apps: list = dataclasses.field(default_factory=list)  # [WorkspaceApp]
    logs: list = dataclasses.field(default_factory=list)  # [(id, created_at, level, output, source_id)]
    logs_length: int = 0  # bytes of stored output (workspace_agents.logs_length)
    logs_overflowed: bool = False
    log_sources: dict = dataclasses.field(default_factory=dict)  # id -> {id, display_name, icon, created_at}
    # Written by the agent RPC connection monitor (agent_rpc.py); None until a monitored connection.
    first_connected_at: dt.datetime | None = None
    last_connected_at: dt.datetime | None = None
    disconnected_at: dt.datetime | None = None


@dataclasses.dataclass
class WorkspaceBuild:
    id: str
    workspace_id: str
    number: int
    transition: str  # start | stop | delete
    job_status: str  # pending | running | succeeded | failed | canceling | canceled
    job_id: str
    initiator_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    template_version_id: str | None
    reason: str = "initiator"
    resource_id: str = ""
    job_started_at: dt.datetime | None = None
    job_completed_at: dt.datetime | None = None
    deadline: dt.datetime | None = None  # None: the zero time (manual shutdown)
    max_deadline: dt.datetime | None = None
    agents: list = dataclasses.field(default_factory=list)  # [WorkspaceAgent]


@dataclasses.dataclass
class Workspace:
    id: str
    owner_id: str
    name: str
    organization_id: str
    created_at: dt.datetime
    template_id: str | None = None
    template_version_id: str | None = None
    updated_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    ttl_ms: int | None = None  # None: no autostop (manual shutdown)
    # Test-only: distance of max_deadline from a start build's completion (templates' autostop requirement).
    max_ttl_ms: int | None = None
    agent_names: list = dataclasses.field(default_factory=lambda: ["main"])
    app_slugs: list = dataclasses.field(default_factory=list)
    builds: list = dataclasses.field(default_factory=list)  # [WorkspaceBuild] by build number
    # workspaces.deleted: set once a delete build's job succeeds (provisionerdserver CompleteJob); never reset.
    deleted: bool = False

    @property
    def latest_build(self):
        return self.builds[-1] if self.builds else None


@dataclasses.dataclass
class File:
    id: str
    hash: str  # sha256 of the stored bytes
    created_by: str
    mimetype: str
    data: bytes
    created_at: dt.datetime


@dataclasses.dataclass
class Provisioner:
    """A built-in provisioner daemon of the default organization."""
    id: str
    name: str
    organization_id: str
    tags: dict
    free_at: dt.datetime  # when its current job (if any) ends


@dataclasses.dataclass
class Job:
    """A template import job. Its status is derived from timestamps on every read, so no thread is needed.

    ``result`` (provisioner.import_template) is computed at creation; it becomes visible when the job
    completes. ``started_at``/``completed_at`` are None while no provisioner has been assigned.
    """
    id: str
    organization_id: str
    initiator_id: str
    file_id: str
    tags: dict
    created_at: dt.datetime
    result: dict
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    worker: Provisioner | None = None
    logs: list = dataclasses.field(default_factory=list)  # [(id, created_at, level, stage, output)]

    def status(self, t) -> str:
        if self.canceled_at is not None:
            return "canceled" if self.completed_at is not None and t >= self.completed_at else "canceling"
        if self.started_at is None or t < self.started_at:
            return "pending"
        if t < self.completed_at:
            return "running"
        return "succeeded" if self.result["ok"] else "failed"

    def completed(self, t) -> bool:
        return self.completed_at is not None and t >= self.completed_at


@dataclasses.dataclass
class TemplateVersion:
    id: str
    organization_id: str
    template_id: str | None
    name: str
    message: str
    job: Job
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    archived: bool = False
    readme: str = ""


@dataclasses.dataclass
class Template:
    id: str
    organization_id: str
    name: str
    active_version_id: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    display_name: str = ""
    description: str = ""
    icon: str = ""
    deleted: bool = False
    deprecation_message: str = ""
    default_ttl_ms: int = 0
    activity_bump_ms: int = 3600000
    time_til_autostop_notify_ms: int = 0
    autostop_days: list = dataclasses.field(default_factory=list)
    autostop_weeks: int = 1
    autostart_days: list = dataclasses.field(default_factory=lambda: list(WEEKDAYS))
    allow_user_autostart: bool = True
    allow_user_autostop: bool = True
    allow_user_cancel_workspace_jobs: bool = False
    failure_ttl_ms: int = 0
    time_til_dormant_ms: int = 0
    time_til_dormant_autodelete_ms: int = 0
    require_active_version: bool = False
    max_port_share_level: str = "owner"
    cors_behavior: str = "simple"
    use_classic_parameter_flow: bool = False
    disable_module_cache: bool = False
    user_acl: dict = dataclasses.field(default_factory=dict)  # user id -> "admin"|"use"
    group_acl: dict = dataclasses.field(default_factory=dict)  # group id -> "admin"|"use"


def hash_password(password: str) -> str:
    # Same scheme shape as coderd/userpassword (pbkdf2-sha256, 1024 iterations).
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1024)
    return f"$pbkdf2-sha256$1024${salt.hex()}${digest.hex()}"


def check_password(hashed: str | None, password: str) -> bool:
    if not hashed:
        return False
    _empty, _scheme, iters, salt, digest = hashed.split("$")
    calc = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iters))
    return hmac.compare_digest(calc.hex(), digest)


def _secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_version(text: str) -> tuple:
    """'v2.34.3+abc' -> (2, 34, 3). Unparseable parts count as 0."""
    core = text.lstrip("v").split("+", 1)[0].split("-", 1)[0]
    nums = []
    for part in core.split(".")[:3]:
        try:
            nums.append(int(part))
        except ValueError:
            nums.append(0)
    while len(nums) < 3:
        nums.append(0)
    return tuple(nums)


class SeedError(ValueError):
    pass


class State:
    def __init__(self, owner_token: str, license: str = "premium", version: str = "v2.34.3", seed=None,
                 build_delay: float = 0.3, provisioners: int = 1, experiments=()):
        self.lock = threading.RLock()
        # Deployment experiments (coderd --experiments); /__emulator/experiments changes them until a reset.
        self.initial_experiments = frozenset(experiments or ())
        self.build_delay = max(float(build_delay), 0.0)
        self.provisioner_count = max(int(provisioners), 0)
        self.owner_token = owner_token
        # The license the emulator started with; /__emulator/license changes self.license until a reset.
        self.initial_license = license
        self.license = license
        # The version and provisioners the emulator started with; /__emulator/version and
        # /__emulator/provisioners change them until a reset.
        self.initial_version = version
        self.initial_provisioner_count = self.provisioner_count
        self.version = version
        self.version_tuple = parse_version(version)
        self.seed = seed or {}
        self.deployment_id = new_uuid()
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self):
        with self.lock:
            self.license = self.initial_license
            self.set_version(self.initial_version)
            self.provisioner_count = self.initial_provisioner_count
            self.users: dict[str, User] = {}
            self.users_by_username: dict[str, User] = {}
            self.users_by_email: dict[str, User] = {}
            self.orgs: dict[str, Organization] = {}
            self.orgs_by_name: dict[str, Organization] = {}
            self.org_members: dict[str, dict[str, Membership]] = {}
            self.user_orgs: dict[str, dict[str, Membership]] = {}
            self.keys: dict[str, ApiKey] = {}
            self.workspaces: dict[str, Workspace] = {}
            self.workspace_builds: dict[str, WorkspaceBuild] = {}
            self.agents: dict[str, WorkspaceAgent] = {}
            self.agents_by_token: dict[str, WorkspaceAgent] = {}
            self.agent_log_seq = 0  # workspace_agent_logs.id is one bigserial for the deployment
            # Test-visible agent RPC log (GET /__emulator/agent-rpc) and the faults scheduled for its calls.
            self.agent_rpc_connections: list = []
            self.agent_rpc_calls: list = []
            self.agent_rpc_faults: list = []
            # The test clock: workspace timestamps and schedule rules use now() + clock_offset.
            self.clock_offset = dt.timedelta(0)
            self.experiments = set(self.initial_experiments)
            self.groups: dict[str, Group] = {}
            self.groups_by_name: dict[tuple, Group] = {}  # (org id, exact name): names are case-sensitive
            self.org_groups: dict[str, dict[str, Group]] = {}  # org id -> groups in creation order
            self.user_groups: dict[str, set] = {}  # user id -> ids of the explicit groups the user is in
            self.files: dict[str, File] = {}
            self.files_by_hash: dict[tuple, File] = {}  # (sha256, uploader id): dedup is per uploader
            self.templates: dict[str, Template] = {}
            self.versions: dict[str, TemplateVersion] = {}
            self.template_versions: dict[str, list] = {}  # template id -> versions in creation order
            self.log_seq = 0  # provisioner_job_logs.id is one bigserial for the deployment
            t = now()
            self.default_org = self.add_org("coder", "Coder", is_default=True, created_at=t)
            self.owner = self.add_user("admin", "admin@coder.test", status="active", roles=["owner"], created_at=t)
            self.add_member(self.default_org.id, self.owner.id)
            self.set_provisioners(self.provisioner_count, t)
            key_id, secret = split_api_token(self.owner_token)
            self._store_key(key_id, secret, self.owner.id, "password", SESSION_LIFETIME)
            self._apply_seed()

    def set_version(self, version):
        self.version = version
        self.version_tuple = parse_version(version)

    def set_provisioners(self, count, free_at=None):
        """Built-in provisioner daemons (coderd --provisioner-daemons) serve the default organization only."""
        with self.lock:
            self.provisioner_count = max(int(count), 0)
            self.provisioners = [Provisioner(id=new_uuid(), name=f"emulator-provisioner-{i + 1}",
                                             organization_id=self.default_org.id,
                                             tags={"scope": "organization", "owner": ""}, free_at=free_at or now())
                                 for i in range(self.provisioner_count)]

    def _apply_seed(self):
        for o in self.seed.get("organizations", []):
            name = o["name"]
            existing = self.orgs_by_name.get(name.lower())
            if existing:
                existing.display_name = o.get("display_name") or existing.display_name
                continue
            self.add_org(name, o.get("display_name") or name, description=o.get("description", ""),
                         icon=o.get("icon", ""))
        for u in self.seed.get("users", []):
            username, email = u["username"], u["email"]
            if username.lower() in self.users_by_username or email.lower() in self.users_by_email:
                raise SeedError(f"seed user {username!r} conflicts with an existing user")
            # Seeded users are fixtures of an established deployment, hence active by default.
            user = self.add_user(username, email, name=u.get("name", ""), status=u.get("status", "active"),
                                 login_type=u.get("login_type", "password"), roles=list(u.get("roles", [])))
            if u.get("password"):
                user.password_hash = hash_password(u["password"])
            memberships = u.get("organizations")
            if memberships is None:
                memberships = [self.default_org.name]
            for m in memberships:
                oname, oroles = (m, []) if isinstance(m, str) else (m["name"], list(m.get("roles", [])))
                org = self.orgs_by_name.get(oname.lower())
                if org is None:
                    raise SeedError(f"seed user {username!r} references unknown organization {oname!r}")
                self.add_member(org.id, user.id, roles=oroles)
        for g in self.seed.get("groups", []):
            self._seed_group(g)

    def _seed_group(self, g):
        oname = g.get("organization") or self.default_org.name
        org = self.orgs_by_name.get(oname.lower())
        if org is None:
            raise SeedError(f"seed group {g['name']!r} references unknown organization {oname!r}")
        source = g.get("source", "user")
        if source not in ("user", "oidc"):
            raise SeedError(f"seed group {g['name']!r} has invalid source {source!r}")
        group = self.groups_by_name.get((org.id, g["name"]))
        if group is not None and not group.everyone:
            raise SeedError(f"seed group {g['name']!r} is defined twice in organization {org.name!r}")
        if group is not None:
            # Everyone exists already; like the API, only quota_allowance and avatar_url may change.
            if g.get("members") or g.get("display_name"):
                raise SeedError("the Everyone group takes no members or display_name (it has every org member)")
        else:
            group = self.add_group(org.id, g["name"], display_name=g.get("display_name", ""))
        group.avatar_url = g.get("avatar_url", group.avatar_url)
        group.quota_allowance = int(g.get("quota_allowance", group.quota_allowance))
        group.source = source
        for username in g.get("members", []):
            user = self.users_by_username.get(username.lower())
            if user is None or self.membership(org.id, user.id) is None:
                raise SeedError(f"seed group {g['name']!r}: {username!r} is not a member of {org.name!r}")
            self.add_group_member(group, user.id)

    # ------------------------------------------------------------------ users
    def add_user(self, username, email, *, name="", status="dormant", login_type="password", roles=None,
                 created_at=None) -> User:
        t = created_at or now()
        user = User(id=new_uuid(), username=username, email=email, name=name, status=status,
                    login_type=login_type, roles=list(roles or []), created_at=t, updated_at=t)
        with self.lock:
            self.users[user.id] = user
            self.users_by_username[username.lower()] = user
            self.users_by_email[email.lower()] = user
        return user

    def rename_user(self, user: User, username: str):
        with self.lock:
            if self.users_by_username.get(user.username.lower()) is user:
                del self.users_by_username[user.username.lower()]
            user.username = username
            self.users_by_username[username.lower()] = user

    def delete_user(self, user: User):
        """Soft delete; like Coder's delete trigger, drop memberships and API keys too."""
        with self.lock:
            user.deleted = True
            user.updated_at = now()
            if self.users_by_username.get(user.username.lower()) is user:
                del self.users_by_username[user.username.lower()]
            if self.users_by_email.get(user.email.lower()) is user:
                del self.users_by_email[user.email.lower()]
            for org_id in list(self.user_orgs.get(user.id, {})):
                self.remove_member(org_id, user.id)
            self.delete_user_keys(user.id)

    def user_by_login(self, username_or_email: str):
        key = username_or_email.lower()
        return self.users_by_username.get(key) or self.users_by_email.get(key)

    def resolve_user(self, value: str, actor: User | None):
        """httpmw.ExtractUserParam: 'me', UUID (deleted users included, as in GetUserByID) or username."""
        if value == "me":
            return actor
        uid = parse_uuid(value)
        if uid is not None:
            return self.users.get(uid)
        return self.users_by_username.get(value.lower())

    def active_users(self):
        return [u for u in self.users.values() if not u.deleted]

    # ------------------------------------------------------------------ organizations
    def add_org(self, name, display_name, *, description="", icon="", is_default=False, created_at=None):
        t = created_at or now()
        org = Organization(id=new_uuid(), name=name, display_name=display_name, description=description,
                           icon=icon, is_default=is_default, created_at=t, updated_at=t)
        with self.lock:
            self.orgs[org.id] = org
            self.orgs_by_name[name.lower()] = org
            self.org_members[org.id] = {}
            self.org_groups[org.id] = {}
            # Every organization has its Everyone group, whose id is the organization id.
            self.add_group(org.id, EVERYONE, group_id=org.id, everyone=True)
        return org

    def drop_org(self, org: Organization):
        with self.lock:
            for uid in list(self.org_members.get(org.id, {})):
                self.remove_member(org.id, uid)
            for group in list(self.org_groups.get(org.id, {}).values()):
                self.delete_group(group)
            del self.orgs[org.id]
            del self.orgs_by_name[org.name.lower()]
            self.org_members.pop(org.id, None)
            self.org_groups.pop(org.id, None)

    def resolve_org(self, value: str):
        """httpmw.ExtractOrganizationParam: UUID (nil = default), 'default' or name (case-insensitive)."""
        uid = parse_uuid(value)
        if uid is not None:
            if uid == NIL_UUID:
                return self.default_org
            return self.orgs.get(uid)
        if value == "default":
            return self.default_org
        return self.orgs_by_name.get(value.lower())

    def add_member(self, org_id, user_id, roles=None) -> Membership:
        t = now()
        m = Membership(organization_id=org_id, user_id=user_id, created_at=t, updated_at=t, roles=list(roles or []))
        with self.lock:
            self.org_members[org_id][user_id] = m
            self.user_orgs.setdefault(user_id, {})[org_id] = m
        return m

    def remove_member(self, org_id, user_id):
        """Leaving an organization also means leaving its groups (Coder's org-member delete trigger)."""
        with self.lock:
            self.org_members.get(org_id, {}).pop(user_id, None)
            self.user_orgs.get(user_id, {}).pop(org_id, None)
            for gid in list(self.user_groups.get(user_id, ())):
                group = self.groups[gid]
                if group.organization_id == org_id:
                    self.remove_group_member(group, user_id)

    def membership(self, org_id, user_id):
        return self.org_members.get(org_id, {}).get(user_id)

    def user_org_ids(self, user_id):
        return list(self.user_orgs.get(user_id, {}))

    # ------------------------------------------------------------------ groups
    def add_group(self, org_id, name, *, display_name="", avatar_url="", quota_allowance=0, source="user",
                  group_id=None, everyone=False) -> Group:
        group = Group(id=group_id or new_uuid(), organization_id=org_id, name=name, display_name=display_name,
                      avatar_url=avatar_url, quota_allowance=quota_allowance, source=source, everyone=everyone)
        with self.lock:
            self.groups[group.id] = group
            self.groups_by_name[(org_id, name)] = group
            self.org_groups[org_id][group.id] = group
        return group

    def rename_group(self, group: Group, name: str):
        with self.lock:
            del self.groups_by_name[(group.organization_id, group.name)]
            group.name = name
            self.groups_by_name[(group.organization_id, name)] = group

    def delete_group(self, group: Group):
        with self.lock:
            for uid in list(group.members):
                self.remove_group_member(group, uid)
            del self.groups[group.id]
            del self.groups_by_name[(group.organization_id, group.name)]
            self.org_groups[group.organization_id].pop(group.id, None)

    def add_group_member(self, group: Group, user_id):
        with self.lock:
            group.members[user_id] = None
            self.user_groups.setdefault(user_id, set()).add(group.id)

    def remove_group_member(self, group: Group, user_id):
        with self.lock:
            group.members.pop(user_id, None)
            self.user_groups.get(user_id, set()).discard(group.id)

    def group_member_ids(self, group: Group):
        """group_members_expanded: Everyone = every org member; deleted users never appear.

        The real query has no ORDER BY; rows come back in insertion (join) order, which is kept here.
        """
        ids = self.org_members.get(group.organization_id, {}) if group.everyone else group.members
        users = self.users
        return [uid for uid in ids if not users[uid].deleted]

    def is_group_member(self, group: Group, user_id) -> bool:
        if group.everyone:
            return self.membership(group.organization_id, user_id) is not None
        return user_id in group.members

    def user_group_ids(self, user_id):
        """Ids of every group the user is in, Everyone groups of the user's organizations included."""
        return set(self.user_groups.get(user_id, ())) | set(self.user_orgs.get(user_id, {}))

    # ------------------------------------------------------------------ API keys
    def _store_key(self, key_id, secret, user_id, login_type, lifetime: dt.timedelta, token_name=""):
        t = now()
        key = ApiKey(id=key_id, secret_hash=_secret_hash(secret), user_id=user_id, login_type=login_type,
                     created_at=t, updated_at=t, expires_at=t + lifetime,
                     lifetime_seconds=int(lifetime.total_seconds()), token_name=token_name)
        with self.lock:
            self.keys[key_id] = key
        return key

    def create_key(self, user_id, login_type, lifetime: dt.timedelta, token_name="") -> tuple[ApiKey, str]:
        key_id, secret = rand_alnum(10), rand_alnum(22)
        key = self._store_key(key_id, secret, user_id, login_type, lifetime, token_name)
        return key, f"{key_id}-{secret}"

    def check_key_secret(self, key: ApiKey, secret: str) -> bool:
        return hmac.compare_digest(key.secret_hash, _secret_hash(secret))

    def delete_user_keys(self, user_id):
        with self.lock:
            for kid in [k.id for k in self.keys.values() if k.user_id == user_id]:
                del self.keys[kid]

    def user_keys(self, user_id):
        return [k for k in self.keys.values() if k.user_id == user_id]

    # ------------------------------------------------------------------ workspaces
    def clock(self) -> dt.datetime:
        """The test clock (wall clock + what POST /__emulator/clock advanced) used by the workspace area."""
        return now() + self.clock_offset

    def add_workspace(self, owner: User, name: str, template: "Template | None" = None, **options) -> Workspace:
        """Create a workspace and its first build (see workspaces.add_build for ``options``)."""
        from . import workspaces as wsmod
        org_ids = self.user_org_ids(owner.id)
        org_id = template.organization_id if template else (org_ids[0] if org_ids else self.default_org.id)
        t = self.clock()
        ws = Workspace(id=new_uuid(), owner_id=owner.id, name=name, organization_id=org_id, created_at=t,
                       updated_at=t, last_used_at=t, template_id=template.id if template else None,
                       template_version_id=template.active_version_id if template else None)
        with self.lock:
            ws.ttl_ms = options.pop("ttl_ms", None)
            if ws.ttl_ms is None and template is not None and template.default_ttl_ms > 0:
                # A workspace created without a TTL gets the template's default TTL.
                ws.ttl_ms = template.default_ttl_ms
            ws.max_ttl_ms = options.pop("max_ttl_ms", None)
            agents = options.pop("agents", None)
            if agents is not None:
                ws.agent_names = list(agents)
            ws.app_slugs = list(options.pop("apps", None) or [])
            self.workspaces[ws.id] = ws
            wsmod.add_build(self, ws, initiator_id=owner.id, **options)
        return ws

    def live_workspaces(self, *, owner_id=None, template_id=None):
        """GetWorkspaces without RBAC: its ``workspaces.deleted = @deleted`` is never given true by a caller
        (the list handler, deleteUser, deleteTemplate), so it only ever returns non-deleted workspaces."""
        return [ws for ws in self.workspaces.values() if not ws.deleted
                and (owner_id is None or ws.owner_id == owner_id)
                and (template_id is None or ws.template_id == template_id)]

    def live_workspace_by_name(self, owner_id, name):
        """The row the unique index workspaces_owner_id_lower_idx (owner_id, lower(name)) WHERE deleted = false
        allows at most once."""
        name = name.lower()
        return next((ws for ws in self.live_workspaces(owner_id=owner_id) if ws.name.lower() == name), None)

    def delete_workspace(self, ws_id) -> bool:
        """Test-only hard removal (the row and its builds and agents go), unlike a delete build."""
        with self.lock:
            ws = self.workspaces.pop(ws_id, None)
            if ws is None:
                return False
            for build in ws.builds:
                self.workspace_builds.pop(build.id, None)
                for agent in build.agents:
                    self.agents.pop(agent.id, None)
                    self.agents_by_token.pop(agent.token, None)
            return True

    # ------------------------------------------------------------------ provisioner jobs
    def matching_provisioners(self, org_id, tags):
        """provisioner_tagset_contains: every job tag must be on the daemon with the same value."""
        return [p for p in self.provisioners
                if p.organization_id == org_id and all(p.tags.get(k) == v for k, v in tags.items())]

    def queue_job(self, job: Job):
        """Assign the job to the matching daemon that is free first; it starts after a short acquire delay.

        Unmatched jobs stay pending forever (no started_at), like a job no daemon will ever acquire.
        """
        candidates = self.matching_provisioners(job.organization_id, job.tags)
        if not candidates:
            return
        worker = min(candidates, key=lambda p: p.free_at)
        delay = dt.timedelta(seconds=self.build_delay)
        job.started_at = max(job.created_at, worker.free_at) + delay / 4
        job.completed_at = job.started_at + delay
        job.worker = worker
        worker.free_at = job.completed_at
        stages = job.result["stages"]
        step = (job.completed_at - job.started_at) / max(len(stages), 1)
        for index, (stage, lines) in enumerate(stages):
            at = job.started_at + step * index
            for level, output in lines:
                self.log_seq += 1
                job.logs.append((self.log_seq, at, level, stage, output))

    def cancel_job(self, job: Job, t):
        job.canceled_at = t
        if job.started_at is None or t < job.started_at:
            # A pending job is canceled at once.
            job.completed_at = t
        else:
            # A running job reports back shortly; until then it is "canceling".
            job.completed_at = t + dt.timedelta(seconds=self.build_delay / 4)
        job.logs = [entry for entry in job.logs if entry[1] <= t]
        if job.worker is not None and job.worker.free_at > job.completed_at:
            job.worker.free_at = max(job.completed_at, t)

    def add_version(self, version: TemplateVersion):
        with self.lock:
            self.versions[version.id] = version
            if version.template_id:
                self.template_versions.setdefault(version.template_id, []).append(version)

    def attach_version(self, version: TemplateVersion, template_id: str):
        with self.lock:
            version.template_id = template_id
            self.template_versions.setdefault(template_id, []).append(version)

    def template_by_name(self, org_id, name):
        low = name.lower()
        for tpl in self.templates.values():
            if tpl.organization_id == org_id and not tpl.deleted and tpl.name.lower() == low:
                return tpl
        return None

    # ------------------------------------------------------------------ JSON views
    def user_json(self, u: User, org_ids=None) -> dict:
        d = {"id": u.id, "username": u.username}
        # name and avatar_url are omitempty since v2.23.
        if u.name:
            d["name"] = u.name
        if u.avatar_url:
            d["avatar_url"] = u.avatar_url
        d.update({
            "email": u.email,
            "created_at": fmt_time(u.created_at),
            "updated_at": fmt_time(u.updated_at),
            "last_seen_at": fmt_time(u.last_seen_at),
            "status": u.status,
            "login_type": u.login_type,
        })
        if u.is_service_account:
            d["is_service_account"] = True
        if u.theme_preference:
            d["theme_preference"] = u.theme_preference
        if org_ids is None:
            org_ids = self.user_org_ids(u.id)
        # A nil Go slice marshals as null: users without memberships show null.
        d["organization_ids"] = list(org_ids) if org_ids else None
        d["roles"] = [rbac.slim_site_role(r) for r in u.roles]
        d["has_ai_seat"] = False
        return d

    def org_json(self, o: Organization) -> dict:
        d = {
            "id": o.id,
            "name": o.name,
            "display_name": o.display_name,
            "description": o.description,
            "icon": o.icon,
            "created_at": fmt_time(o.created_at),
            "updated_at": fmt_time(o.updated_at),
            "is_default": o.is_default,
        }
        # default_org_member_roles landed on main after v2.34.3 and is in no release yet.
        if self.version_tuple >= (2, 35, 0):
            d["default_org_member_roles"] = []
        return d

    def member_json(self, m: Membership) -> dict:
        return {
            "user_id": m.user_id,
            "organization_id": m.organization_id,
            "created_at": fmt_time(m.created_at),
            "updated_at": fmt_time(m.updated_at),
            "roles": [rbac.slim_org_role(r, m.organization_id) for r in m.roles],
        }

    def member_with_user_json(self, m: Membership) -> dict:
        u = self.users[m.user_id]
        d = {"username": u.username}
        if u.name:
            d["name"] = u.name
        if u.avatar_url:
            d["avatar_url"] = u.avatar_url
        d.update({
            "email": u.email,
            "global_roles": [rbac.slim_site_role(r) for r in u.roles],
            "last_seen_at": fmt_time(u.last_seen_at),
            "status": u.status,
            "login_type": u.login_type,
            "user_created_at": fmt_time(u.created_at),
            "user_updated_at": fmt_time(u.updated_at),
        })
        if u.is_service_account:
            d["is_service_account"] = True
        d["has_ai_seat"] = False
        d.update(self.member_json(m))
        return d

    def reduced_user_json(self, u: User) -> dict:
        """codersdk.ReducedUser: User without organization_ids, roles and has_ai_seat."""
        d = {"id": u.id, "username": u.username}
        if u.name:
            d["name"] = u.name
        if u.avatar_url:
            d["avatar_url"] = u.avatar_url
        d["email"] = u.email
        d["created_at"] = fmt_time(u.created_at)
        d["updated_at"] = fmt_time(u.updated_at)
        d["last_seen_at"] = fmt_time(u.last_seen_at)
        d["status"] = u.status
        d["login_type"] = u.login_type
        if u.is_service_account:
            d["is_service_account"] = True
        if u.theme_preference:
            d["theme_preference"] = u.theme_preference
        return d

    def group_json(self, g: Group, member_ids, total: int, cache=None) -> dict:
        """codersdk.Group (db2sdk.Group). ``cache`` (user id -> ReducedUser dict) lets a list response
        serialize each user once however many groups they are in."""
        if cache is None:
            cache = {}
        users = self.users
        members = []
        for uid in member_ids:
            d = cache.get(uid)
            if d is None:
                d = cache[uid] = self.reduced_user_json(users[uid])
            members.append(d)
        org = self.orgs[g.organization_id]
        # db2sdk.List makes a non-nil slice: members is [] (never null) when empty.
        return {
            "id": g.id,
            "name": g.name,
            "display_name": g.display_name,
            "organization_id": g.organization_id,
            "members": members,
            "total_member_count": total,
            "avatar_url": g.avatar_url,
            "quota_allowance": g.quota_allowance,
            "source": g.source,
            "organization_name": org.name,
            "organization_display_name": org.display_name,
        }

    def key_json(self, k: ApiKey) -> dict:
        return {
            "id": k.id,
            "user_id": k.user_id,
            "last_used": fmt_time(k.last_used),
            "expires_at": fmt_time(k.expires_at),
            "created_at": fmt_time(k.created_at),
            "updated_at": fmt_time(k.updated_at),
            "login_type": k.login_type,
            "scope": "all",
            "scopes": list(k.scopes),
            "token_name": k.token_name,
            "lifetime_seconds": k.lifetime_seconds,
            "allow_list": [{"type": "*", "id": "*"}],
        }

    def _dump_group(self, g: Group) -> dict:
        ids = self.group_member_ids(g)
        return self.group_json(g, ids, len(ids))

    def dump(self) -> dict:
        """Debug view for /__emulator/state: no secrets, no password hashes."""
        with self.lock:
            return json.loads(json.dumps({
                "version": self.version,
                "license": self.license,
                "organizations": [self.org_json(o) for o in self.orgs.values()],
                "users": [dict(self.user_json(u), deleted=u.deleted, has_password=bool(u.password_hash))
                          for u in self.users.values()],
                "members": [self.member_json(m) for mm in self.org_members.values() for m in mm.values()],
                "api_keys": [self.key_json(k) for k in self.keys.values()],
                "groups": [self._dump_group(g) for g in self.groups.values()],
                "workspaces": [{"id": w.id, "owner_id": w.owner_id, "name": w.name,
                                "organization_id": w.organization_id, "template_id": w.template_id,
                                "builds": len(w.builds), "deleted": w.deleted}
                               for w in self.workspaces.values()],
                "files": [{"id": f.id, "hash": f.hash, "created_by": f.created_by, "mimetype": f.mimetype,
                           "size": len(f.data)} for f in self.files.values()],
                "templates": [{"id": t.id, "name": t.name, "organization_id": t.organization_id,
                               "deleted": t.deleted} for t in self.templates.values()],
                "template_versions": [{"id": v.id, "name": v.name, "template_id": v.template_id,
                                       "archived": v.archived} for v in self.versions.values()],
            }))
