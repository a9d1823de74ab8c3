"""Identities on a laptop: the roles file `modelops init` writes for the embedded default,
and `modelops identity` (whoami, keygen).

On a fresh machine nobody is known yet, so `modelops init` registers the operating-system
user who runs it as a local validator (`<user>@localhost`, roles model_validator,
head_of_model_risk and operator, every use case) with a new signing key in their own home,
and a key for the audit anchors. The spec's owner stays a different person, so separation of
duties holds on the laptop too. In production the roles file is the bank's, reviewed like
code, and identities come from the identity provider (docs/security.md).
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from modelops.governance.signatures import (
    Signer,
    load_private_key,
    new_private_key,
    public_key_text,
    write_private_key,
)
from modelops.settings import Settings

LOCAL_ROLES = ("model_validator", "head_of_model_risk", "operator")


def os_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def ensure_key(path: Path) -> str:
    """The public half of the key at `path`, created (0600) when there is none."""
    if not path.exists():
        pem, public = new_private_key()
        try:
            write_private_key(path, pem)
            return public
        except FileExistsError:  # another process made it meanwhile: theirs is the key
            pass
    return public_key_text(load_private_key(path))


def ensure_local_roles(settings: Settings) -> str | None:
    """Write the laptop's roles file when there is none (embedded default, OS identities);
    what was done, for `modelops init` to say, or None."""
    from modelops.resources.audit_anchor_store import ANCHOR_KEY_VARIABLE
    from modelops.resources.identity import default_key_file

    path = settings.roles_file
    if settings.identity.kind != "os" or settings.environment != "local" or path.exists():
        return None
    user = os_user()
    email = f"{user}@localhost"
    today = datetime.now(UTC).strftime("%Y%m%d")
    anchor_file = Path(os.environ.get(ANCHOR_KEY_VARIABLE) or settings.home_dir / "keys/anchor.pem")
    document = {
        "signatures_required_since": datetime.now(UTC).isoformat(timespec="seconds"),
        "people": [
            {
                "email": email,
                "os_users": [user],
                "roles": list(LOCAL_ROLES),
                "use_cases": ["*"],
                "keys": [
                    {"id": f"{user}-{today}", "public_key": ensure_key(default_key_file(email))}
                ],
            }
        ],
        "anchor_keys": [{"id": f"anchor-{today}", "public_key": ensure_key(anchor_file)}],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Who is who on this machine (written by `modelops init`; docs/security.md).\n"
        + yaml.safe_dump(document, sort_keys=False)
    )
    return (
        f"roles file {path}: OS user {user!r} is {email} ({', '.join(LOCAL_ROLES)}); "
        f"signing key {default_key_file(email)}"
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    identity = commands.add_parser("identity", help="who you are to the platform; your key")
    actions = identity.add_subparsers(dest="identity_command", required=True)
    actions.add_parser("whoami", help="the person, roles and signing key the platform sees")
    keygen = actions.add_parser("keygen", help="a new signing key, and its roles-file entry")
    keygen.add_argument("--email", help="whose key (default: who you are authenticated as)")
    identity.set_defaults(handler=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from modelops.resources.identity import IdentityError, default_key_file, identity_provider

    try:
        provider = identity_provider(settings)
        if args.identity_command == "keygen" and args.email:
            email = args.email.strip().lower()
        else:
            email = provider.current().email
    except IdentityError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 3
    key_file = Path(os.environ.get("MODELOPS_SIGNING_KEY_FILE") or default_key_file(email))
    if args.identity_command == "keygen":
        if key_file.exists():
            print(f"refused: {key_file} exists; move it away to make a new key", file=sys.stderr)
            return 3
        public = ensure_key(key_file)
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        print(f"new signing key in {key_file} (readable by you only). Register it in the roles")
        print(f"file ({settings.roles_file}) under {email}:")
        print(f"    keys:\n      - id: {email.split('@')[0]}-{stamp}\n        public_key: {public}")
        return 0
    identity = provider.current()
    try:
        signer = provider.signer(identity)
        key = f"signs with key {signer.key_id} ({key_file})"
    except IdentityError as exc:
        key = f"cannot sign: {exc}"
    print(f"{identity.email} ({identity.how})")
    roles = ", ".join(identity.roles) or "none"
    print(f"  roles: {roles}; use cases: {', '.join(identity.use_cases)}")
    print(f"  {key}")
    return 0


def simulated_person(settings: Settings, email: str, roles: tuple[str, ...]) -> Signer:
    """A person the demo plays in its own sandbox: registered in the sandbox's roles file with
    a key kept in the sandbox (`keys/`), so their approvals are signed and verify like real
    ones. Never used outside a sandbox: real people hold their own keys."""
    keys = settings.home_dir / "keys"
    key_file = keys / f"{email}.pem"
    public = ensure_key(key_file)
    document = {
        "people": [
            {
                "email": email,
                "roles": list(roles),
                "keys": [{"id": f"sandbox-{email.split('@')[0]}", "public_key": public}],
            }
        ],
        "anchor_keys": [{"id": "sandbox-anchor", "public_key": ensure_key(keys / "anchor.pem")}],
    }
    settings.roles_file.parent.mkdir(parents=True, exist_ok=True)
    settings.roles_file.write_text(yaml.safe_dump(document, sort_keys=False))
    key_id = f"sandbox-{email.split('@')[0]}"
    return Signer(email=email, key_id=key_id, private_key=load_private_key(key_file))
