"""Platform settings: one environment switch and its parameters, read from the environment.

Read once when the code location loads and validated there, so a wrong value stops the load
with a message naming the variable, instead of failing in the middle of a run (Dagster's
`EnvVar` is only resolved at run time). Secrets (database passwords, MLflow credentials)
are never settings: their clients read them from the environment themselves, so they cannot
end up in asset metadata or logs; a message that names a connection shows it through `redact`,
so a secret given by mistake is not printed either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from modelops.spec.allowances import Allowances
from modelops.spec.estimator_policy import EstimatorPolicyError, load_estimator_policy
from modelops.spec.source_roots import ROOTS_VARIABLE, SourceRoots

Environment = Literal["local", "gcp", "k8s"]
ENVIRONMENTS: tuple[str, ...] = ("local", "gcp", "k8s")
WEBHOOK_VARIABLE = "MODELOPS_ALERT_WEBHOOK_URL"
"""A secret: its value is only read by the alert resource at run time."""
SMTP_PASSWORD_VARIABLE = "MODELOPS_SMTP_PASSWORD"
"""A secret, like the webhook URL: read by the alert resource when it logs in to SMTP."""
ESTIMATOR_POLICY_VARIABLE = "MODELOPS_ESTIMATOR_POLICY"

_PROJECT_MARKERS = ("pyproject.toml", "workspace.yaml")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SECRET_KEYS = (
    r"password|passwd|pwd|pass|sslpassword|secret|client_secret|token|access_token|"
    r"refresh_token|api_key|apikey"
)
"""Names of secret values in a key-value DSN and in a URL's query (which also has `key`,
`sig`, `signature` and `auth`, e.g. signed or API-key URLs)."""
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):\S*@")
_EQUALS = r"(?:=|%3D)"
"""`=`, also percent-encoded (a URL's query, a libpq `options` value)."""
_QUERY_SECRET = re.compile(
    rf"(?P<head>[?&;](?:{_SECRET_KEYS}|key|sig|signature|auth){_EQUALS})[^&#\s]*",
    re.IGNORECASE,
)
_KEY_VALUE_SECRET = re.compile(
    rf"(?P<head>(?<![A-Za-z])(?:{_SECRET_KEYS})\s*{_EQUALS}\s*)"
    r"(?:'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|\S+)",
    re.IGNORECASE,
)
REDACTED = "***"
"""What a secret reads as in any message."""


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


class GcpSettings(BaseModel):
    """Where the platform keeps its files and reads its sources on Google Cloud."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str
    bucket: str
    prefix: str = "modelops"
    bigquery_dataset: str | None = None
    """Dataset that scored predictions are written back to; None = not written back."""


class K8sSettings(BaseModel):
    """How steps run as Kubernetes Jobs (one pod per step)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str
    namespace: str = "modelops"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    env_secrets: tuple[str, ...] = ("modelops-secrets",)
    service_account: str | None = None
    job_ttl_seconds: int = 86_400


class SmtpSettings(BaseModel):
    """The SMTP server alerts are e-mailed through (MODELOPS_SMTP_*; docs/alerts.md). The
    password is a secret (MODELOPS_SMTP_PASSWORD), read when logging in, never a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = 25
    from_address: str
    starttls: bool = False
    username: str | None = None


class IdentitySettings(BaseModel):
    """How operators are authenticated (docs/security.md): the OS user locally, an OIDC
    token verified against the identity provider's keys in production."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["os", "oidc"] = "os"
    roles_file: Path | None = None
    """People, roles and signing keys; None = `roles.yaml` in the platform home."""
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_file: str | None = None
    oidc_jwks_url: str | None = None


class Settings(BaseModel):
    """Everything that differs between a laptop, GCP and Kubernetes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Environment = "local"
    project_dir: Path
    specs_dir: Path
    home_dir: Path
    """Local state of the embedded default: datasets, MLflow store, Dagster instance."""
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    reports_url: str = "http://127.0.0.1:3002"
    """Where `modelops reports` serves the embedded store's reports (links in the UI)."""
    gcp: GcpSettings | None = None
    k8s: K8sSettings | None = None
    alert_webhook: bool = False
    """Whether alerts go to the webhook in MODELOPS_ALERT_WEBHOOK_URL (the URL is not kept)."""
    smtp: SmtpSettings | None = None
    """Where alerts are e-mailed from (MODELOPS_SMTP_HOST); None = no e-mail channel."""
    alert_attempts: int = 3
    """MODELOPS_ALERT_ATTEMPTS: tries per channel before an alert is recorded undelivered."""
    alert_backoff_seconds: float = 0.5
    """MODELOPS_ALERT_BACKOFF_SECONDS: the first wait between tries (doubled each time)."""
    audit_database_url: str | None = None
    """Postgres database of the audit log (gcp, k8s); None = the SQLite file under home."""
    risk_policy_file: Path | None = None
    """The bank's risk policy; None = the policy packaged with the platform."""
    estimator_policy_file: Path | None = None
    """The estimator classes specs may name; None = the policy packaged with the platform."""
    source_roots: tuple[str, ...] = ()
    """Folders or gs:// prefixes sources may be read from, besides the project's `data/`,
    the landing folder under the platform home and (gcp) the platform's bucket."""
    decision_log_dir_override: Path | None = None
    """MODELOPS_DECISION_LOG_DIR: the online decisions' folder; None = `decisions/` in home."""
    decision_log_fsync: bool = False
    """MODELOPS_DECISION_LOG_FSYNC=1: each decision on disk before answering (host crash)."""
    identity: IdentitySettings = IdentitySettings()

    @property
    def roles_file(self) -> Path:
        return self.identity.roles_file or self.home_dir / "roles.yaml"

    @property
    def decision_log_dir(self) -> Path:
        return self.decision_log_dir_override or self.home_dir / "decisions"

    @property
    def audit_log_path(self) -> Path:
        return self.home_dir / "audit.db"

    @property
    def data_dir(self) -> Path:
        return self.home_dir / "data"

    @property
    def dagster_home(self) -> Path:
        return self.home_dir / "dagster"

    @property
    def landing_dir(self) -> Path:
        """Where files land under the platform home (the demo's simulated traffic)."""
        return self.home_dir / "traffic"

    @property
    def readable_roots(self) -> SourceRoots:
        """Where sources may be read from: the project's data folder, the landing folder,
        the declared roots and, on GCP, the platform's bucket."""
        roots: tuple[str | Path, ...] = (self.project_dir / "data", self.landing_dir)
        if self.gcp is not None:
            roots += (f"gs://{self.gcp.bucket}",)
        return SourceRoots.of(
            self.project_dir, (*roots, *self.source_roots), remote=self.gcp is not None
        )

    @property
    def spec_allowances(self) -> Allowances:
        """What specs may name here: estimators, readable roots, the model code folder."""
        policy = load_estimator_policy(self.estimator_policy_file)
        return Allowances(policy, self.readable_roots, self.project_dir)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `MODELOPS_*` variables; defaults give the embedded `local` setup."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        environment = reader.choice("MODELOPS_ENV", ENVIRONMENTS, default="local")
        project = Path(reader.get("MODELOPS_PROJECT_DIR") or _find_project_dir()).resolve()
        home = (project / (reader.get("MODELOPS_HOME") or ".modelops")).resolve()
        specs = (project / (reader.get("MODELOPS_SPECS_DIR") or "assets")).resolve()
        if not specs.is_dir():
            reader.fail("MODELOPS_SPECS_DIR", f"{specs} is not a directory of use-case specs")

        gcp = k8s = None
        if environment in ("gcp", "k8s"):
            gcp = GcpSettings(
                project=reader.required("MODELOPS_GCP_PROJECT", "the Google Cloud project id"),
                bucket=reader.matching("MODELOPS_GCS_BUCKET", _BUCKET, "a valid GCS bucket name"),
                prefix=(reader.get("MODELOPS_GCS_PREFIX") or "modelops").strip("/"),
                bigquery_dataset=reader.get("MODELOPS_BIGQUERY_DATASET"),
            )
        if environment == "k8s":
            secrets = reader.get("MODELOPS_K8S_ENV_SECRETS") or "modelops-secrets"
            k8s = K8sSettings(
                image=reader.required("MODELOPS_K8S_IMAGE", "the user-code image to run steps in"),
                namespace=reader.matching(
                    "MODELOPS_K8S_NAMESPACE",
                    _K8S_NAME,
                    "a valid Kubernetes namespace",
                    default="modelops",
                ),
                image_pull_policy=reader.choice(  # type: ignore[arg-type]
                    "MODELOPS_K8S_IMAGE_PULL_POLICY",
                    ("Always", "IfNotPresent", "Never"),
                    default="IfNotPresent",
                ),
                env_secrets=tuple(s.strip() for s in secrets.split(",") if s.strip()),
                service_account=reader.get("MODELOPS_K8S_SERVICE_ACCOUNT"),
            )

        tracking = reader.get("MODELOPS_MLFLOW_TRACKING_URI")
        if environment == "local":
            tracking = tracking or f"sqlite:///{home / 'mlflow.db'}"
        elif not tracking:
            reader.fail(
                "MODELOPS_MLFLOW_TRACKING_URI",
                f"is required with MODELOPS_ENV={environment}: the URL of the MLflow "
                "tracking server, e.g. https://mlflow.bank.internal",
            )
        _check_tracking_uri(reader, tracking)
        artifact_root = reader.get("MODELOPS_MLFLOW_ARTIFACT_ROOT")
        if environment == "local" and not (tracking or "").startswith(("http://", "https://")):
            # A local store keeps artifacts beside it; a tracking server decides for itself
            # (a local folder here would bypass the server and stay on this machine).
            artifact_root = artifact_root or (home / "mlartifacts").as_uri()

        audit_url = reader.get("MODELOPS_AUDIT_DATABASE_URL")
        if audit_url is None and environment != "local":
            reader.fail(
                "MODELOPS_AUDIT_DATABASE_URL",
                f"is required with MODELOPS_ENV={environment}: the Postgres database of the "
                "audit log, e.g. postgresql://modelops@db.bank.internal:5432/modelops "
                "(the password comes from PGPASSWORD)",
            )
        elif audit_url is not None:
            _check_audit_url(reader, audit_url)
        policy = reader.get("MODELOPS_RISK_POLICY")
        policy_file = (project / policy).resolve() if policy else None
        if policy_file is not None and not policy_file.is_file():
            reader.fail("MODELOPS_RISK_POLICY", f"{policy_file} is not a file")
        estimator_policy = _estimator_policy(reader, project)
        source_roots = _source_roots(reader, project)
        decisions = reader.get("MODELOPS_DECISION_LOG_DIR")
        fsync = (reader.get("MODELOPS_DECISION_LOG_FSYNC") or "0").lower()
        if fsync not in ("0", "1", "true", "false"):
            reader.fail("MODELOPS_DECISION_LOG_FSYNC", f"must be 0 or 1, got {fsync!r}")

        identity = _identity(reader, project, environment)
        smtp, attempts, backoff = _alert_delivery(reader)
        reader.raise_if_failed()
        return cls(
            environment=environment,  # type: ignore[arg-type]
            project_dir=project,
            specs_dir=specs,
            home_dir=home,
            mlflow_tracking_uri=tracking,  # type: ignore[arg-type]
            mlflow_artifact_root=artifact_root,
            reports_url=reader.get("MODELOPS_REPORTS_URL") or "http://127.0.0.1:3002",
            mlflow_ui_url=reader.get("MODELOPS_MLFLOW_UI_URL")
            or (tracking if tracking and tracking.startswith("http") else "http://127.0.0.1:5000"),
            gcp=gcp,
            k8s=k8s,
            alert_webhook=reader.get(WEBHOOK_VARIABLE) is not None,
            audit_database_url=audit_url,
            risk_policy_file=policy_file,
            estimator_policy_file=estimator_policy,
            source_roots=source_roots,
            decision_log_dir_override=(project / decisions).resolve() if decisions else None,
            decision_log_fsync=fsync in ("1", "true"),
            identity=identity,
            smtp=smtp,
            alert_attempts=attempts,
            alert_backoff_seconds=backoff,
        )


def _identity(reader: _Reader, project: Path, environment: str) -> IdentitySettings:
    """OS users locally, OIDC elsewhere, unless MODELOPS_IDENTITY says otherwise. What OIDC
    needs is checked when a command needs an identity (a code server never does)."""
    kind = reader.get("MODELOPS_IDENTITY") or ("os" if environment == "local" else "oidc")
    if kind not in ("os", "oidc"):
        reader.fail("MODELOPS_IDENTITY", f"must be os or oidc, got {kind!r}")
        kind = "os"
    roles = reader.get("MODELOPS_ROLES_FILE")
    oidc = {
        "oidc_issuer": reader.get("MODELOPS_OIDC_ISSUER"),
        "oidc_audience": reader.get("MODELOPS_OIDC_AUDIENCE"),
        "oidc_jwks_file": reader.get("MODELOPS_OIDC_JWKS_FILE"),
        "oidc_jwks_url": reader.get("MODELOPS_OIDC_JWKS_URL"),
    }
    return IdentitySettings(
        kind=kind,  # type: ignore[arg-type]
        roles_file=(project / roles).resolve() if roles else None,
        **oidc,
    )


def _alert_delivery(reader: _Reader) -> tuple[SmtpSettings | None, int, float]:
    """The SMTP server (when MODELOPS_SMTP_HOST is set) and how alerts are retried."""
    smtp = None
    host = reader.get("MODELOPS_SMTP_HOST")
    port = reader.get("MODELOPS_SMTP_PORT") or "25"
    if not port.isdigit() or not 0 < int(port) < 65536:
        reader.fail("MODELOPS_SMTP_PORT", f"must be a port number, got {port!r}")
        port = "25"
    starttls = (reader.get("MODELOPS_SMTP_STARTTLS") or "0").lower()
    if starttls not in ("0", "1", "true", "false"):
        reader.fail("MODELOPS_SMTP_STARTTLS", f"must be 0 or 1, got {starttls!r}")
    if host is not None:
        sender = reader.get("MODELOPS_SMTP_FROM")
        if sender is None or not re.match(r"^[^@\s]+@[^@\s]+$", sender):
            reader.fail("MODELOPS_SMTP_FROM", "is required with MODELOPS_SMTP_HOST: an address")
        smtp = SmtpSettings(
            host=host,
            port=int(port),
            from_address=sender or "missing",
            starttls=starttls in ("1", "true"),
            username=reader.get("MODELOPS_SMTP_USERNAME"),
        )
    attempts = reader.get("MODELOPS_ALERT_ATTEMPTS") or "3"
    if not attempts.isdigit() or not 1 <= int(attempts) <= 10:
        reader.fail("MODELOPS_ALERT_ATTEMPTS", f"must be 1 to 10, got {attempts!r}")
        attempts = "3"
    backoff = reader.get("MODELOPS_ALERT_BACKOFF_SECONDS") or "0.5"
    try:
        seconds = float(backoff)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        reader.fail("MODELOPS_ALERT_BACKOFF_SECONDS", f"must be 0 to 60, got {backoff!r}")
        seconds = 0.5
    return smtp, int(attempts), seconds


class _Reader:
    """Reads variables and collects every problem, so one load reports all of them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def get(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def fail(self, name: str, reason: str) -> None:
        self.problems.append(f"{name}: {reason}")

    def required(self, name: str, meaning: str) -> str:
        value = self.get(name)
        if value is None:
            self.fail(name, f"is required for this environment ({meaning})")
            return "missing"
        return value

    def choice(self, name: str, allowed: tuple[str, ...], *, default: str) -> str:
        value = self.get(name) or default
        if value not in allowed:
            self.fail(name, f"{value!r} is invalid: expected one of {', '.join(allowed)}")
            return default
        return value

    def matching(
        self, name: str, pattern: re.Pattern[str], meaning: str, *, default: str | None = None
    ) -> str:
        value = self.get(name) or default
        if value is None:
            self.fail(name, f"is required for this environment ({meaning})")
            return "missing"
        if not pattern.match(value):
            self.fail(name, f"{value!r} is not {meaning}")
        return value

    def raise_if_failed(self) -> None:
        if self.problems:
            raise SettingsError(
                "invalid settings:\n" + "\n".join(f"  - {p}" for p in self.problems)
            )


def redact(text: object, *, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret of a connection replaced by `***`: the password of a URL
    (`scheme://user:PASSWORD@host`), secret query parameters (`?password=`, `&token=`), and
    `password=...` pairs of a key-value DSN, quoted or not; and each of `secrets` (e.g. a
    webhook URL, which is a secret whole) wherever it appears. For every message that names
    a database, a tracking server or a webhook."""
    shown = str(text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        shown = shown.replace(secret, REDACTED)
    shown = _URL_PASSWORD.sub(rf"\g<head>:{REDACTED}@", shown)
    shown = _QUERY_SECRET.sub(rf"\g<head>{REDACTED}", shown)
    return _KEY_VALUE_SECRET.sub(rf"\g<head>{REDACTED}", shown)


def _check_tracking_uri(reader: _Reader, uri: str | None) -> None:
    if not uri:
        return
    parts = urlsplit(uri)
    if parts.password or parts.username or redact(uri) != uri:
        reader.fail(
            "MODELOPS_MLFLOW_TRACKING_URI",
            "must not contain credentials; set "
            "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD instead",
        )
    if parts.scheme not in (
        "http",
        "https",
        "sqlite",
        "postgresql",
        "postgresql+psycopg2",
        "databricks",
        "file",
    ):
        # The scheme only: a value that is not a URI may be anything, a secret included.
        reader.fail(
            "MODELOPS_MLFLOW_TRACKING_URI",
            f"is not an MLflow tracking URI (scheme {parts.scheme or 'none'!r}; expected "
            "http(s)://, sqlite:///, ...)",
        )


def _check_audit_url(reader: _Reader, url: str) -> None:
    """A libpq connection string, as a URL or as key-value pairs, with no password in any
    form. The value itself is never echoed: one that does not parse may be anything, a
    secret included (libpq's own parse error quotes it)."""
    from psycopg2.extensions import parse_dsn

    name = "MODELOPS_AUDIT_DATABASE_URL"
    try:
        parsed = parse_dsn(url)
    except Exception:
        reader.fail(
            name,
            "is not a Postgres connection string (postgresql://user@host:5432/database, or "
            "host=... dbname=... user=...)",
        )
        return
    given = " ".join(f"{key}={value}" for key, value in parsed.items())
    if "password" in parsed or redact(url) != url or redact(given) != given:
        reader.fail(name, "must not contain a password; set PGPASSWORD (a secret) instead")


def _estimator_policy(reader: _Reader, project: Path) -> Path | None:
    """The platform team's estimator policy file, checked now so a typo stops the load."""
    value = reader.get(ESTIMATOR_POLICY_VARIABLE)
    if value is None:
        return None
    path = (project / value).resolve()
    try:
        load_estimator_policy(path)
    except EstimatorPolicyError as exc:
        reader.fail(ESTIMATOR_POLICY_VARIABLE, str(exc))
    return path


def _source_roots(reader: _Reader, project: Path) -> tuple[str, ...]:
    """Extra roots: comma-separated folders (from the project when relative) or gs:// prefixes."""
    roots: list[str] = []
    for entry in (e.strip() for e in (reader.get(ROOTS_VARIABLE) or "").split(",")):
        if not entry:
            continue
        if entry.startswith("gs://"):
            if not _BUCKET.match(entry.removeprefix("gs://").split("/")[0]):
                reader.fail(ROOTS_VARIABLE, f"{entry!r} is not a gs://bucket[/prefix] URI")
            roots.append(entry.rstrip("/"))
            continue
        folder = (project / entry).resolve()
        if not folder.is_dir():
            reader.fail(ROOTS_VARIABLE, f"{folder} is not a directory")
        roots.append(str(folder))
    return tuple(roots)


def _find_project_dir() -> Path:
    """The folder holding pyproject.toml: from the current directory up, else from this file."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if all((folder / marker).is_file() for marker in _PROJECT_MARKERS):
                return folder
    return Path.cwd()
