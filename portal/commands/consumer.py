"""``loom apps|keys|subscriptions|audit``: applications, credentials, subscriptions and the audit log over the
admin API (the same authorization and audit as every other caller)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from portal.client import AdminClient

__all__ = ["add_parsers", "apps_command", "audit_command", "keys_command", "subscriptions_command"]

_APP = "id name owner team createdAt"
_CREDENTIAL = "id applicationId kind name prefix clientId createdAt expiresAt revokedAt"
_SUBSCRIPTION = "id applicationId application product plan state requestedBy decidedBy decidedAt"
_EVENT = "id createdAt actor action targetKind targetName outcome via"


def add_parsers(sub: Any) -> None:
    """Register the four commands on ``loom``'s subparsers."""

    def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--server", required=True, help="the portal URL")
        parser.add_argument("--token", required=True, help="your personal access token")
        parser.add_argument("-o", "--output", choices=["table", "yaml", "json"], default="table")
        return parser

    apps = sub.add_parser("apps", help="your applications").add_subparsers(dest="apps_command", required=True)
    common(apps.add_parser("list", help="the applications you may see"))
    create = common(apps.add_parser("create", help="create an application of your own"))
    create.add_argument("name")
    create.add_argument("--team", default=None, help="share it with a team you belong to")
    create.add_argument("--description", default="")
    delete = common(apps.add_parser("delete", help="delete an application (revoke its subscriptions first)"))
    delete.add_argument("id", type=int)

    keys = sub.add_parser("keys", help="API keys and OAuth2 clients").add_subparsers(dest="keys_command", required=True)
    listing = common(keys.add_parser("list", help="an application's credentials"))
    listing.add_argument("--app", type=int, required=True, dest="application")
    for name, help_text in (("create", "issue an API key (shown once)"), ("oauth-client", "register an OAuth2 client")):
        issue = common(keys.add_parser(name, help=help_text))
        issue.add_argument("--app", type=int, required=True, dest="application")
        issue.add_argument("--name", default="")
        issue.add_argument("--expires-in-days", type=int, default=None)
    revoke = common(keys.add_parser("revoke", help="revoke a credential"))
    revoke.add_argument("id", type=int)

    subs = sub.add_parser("subscriptions", help="subscriptions to products").add_subparsers(
        dest="subscriptions_command", required=True
    )
    listed = common(subs.add_parser("list", help="subscriptions you may see"))
    listed.add_argument("--product", default=None)
    listed.add_argument("--state", default=None, choices=["requested", "approved", "rejected", "revoked"])
    listed.add_argument("--app", type=int, default=None, dest="application")
    request = common(subs.add_parser("request", help="subscribe an application to a product's plan"))
    request.add_argument("--app", type=int, required=True, dest="application")
    request.add_argument("--product", required=True)
    request.add_argument("--plan", required=True)
    for verb in ("approve", "reject", "revoke"):
        decide = common(subs.add_parser(verb, help=f"{verb} a subscription"))
        decide.add_argument("id", type=int)

    audit = common(sub.add_parser("audit", help="the audit log (a platform admin's whole log, else your own)"))
    audit.add_argument("--actor", default=None)
    audit.add_argument("--action", default=None)
    audit.add_argument("--kind", default=None, dest="target_kind")
    audit.add_argument("--name", default=None, dest="target_name")
    audit.add_argument("--outcome", default=None, choices=["allowed", "denied"])
    audit.add_argument("--limit", type=int, default=50)


def apps_command(args: argparse.Namespace, *, client: AdminClient | None = None) -> int:
    with _client(args, client) as admin:
        if args.apps_command == "list":
            return _print(args, admin.execute(f"{{ applications {{ {_APP} }} }}")["applications"], _APP)
        if args.apps_command == "create":
            variables = {"n": args.name, "t": args.team, "d": args.description}
            mutation = (
                "mutation($n: String!, $t: String, $d: String!) { createApplication(name: $n, team: $t, "
                f"description: $d) {{ {_APP} }} }}"
            )
            return _print(args, [admin.execute(mutation, variables)["createApplication"]], _APP)
        deleted = admin.execute(f"mutation($i: Int!) {{ deleteApplication(id: $i) {{ {_APP} }} }}", {"i": args.id})
        return _print(args, [deleted["deleteApplication"]], _APP)


def keys_command(args: argparse.Namespace, *, client: AdminClient | None = None) -> int:
    with _client(args, client) as admin:
        if args.keys_command == "list":
            query = f"query($a: Int!) {{ credentials(applicationId: $a) {{ {_CREDENTIAL} }} }}"
            return _print(args, admin.execute(query, {"a": args.application})["credentials"], _CREDENTIAL)
        if args.keys_command in ("create", "oauth-client"):
            field = "createApiKey" if args.keys_command == "create" else "createOAuthClient"
            mutation = (
                f"mutation($a: Int!, $n: String!, $e: Int) {{ {field}(applicationId: $a, name: $n, "
                f"expiresInDays: $e) {{ secret credential {{ {_CREDENTIAL} }} }} }}"
            )
            issued = admin.execute(mutation, {"a": args.application, "n": args.name, "e": args.expires_in_days})[field]
            _print(args, [issued["credential"]], _CREDENTIAL, out=sys.stderr if args.output == "table" else sys.stdout)
            if args.output == "table":
                print("the secret is shown only now:", file=sys.stderr)
                print(issued["secret"], flush=True)
            else:
                print(_render(args.output, {"secret": issued["secret"]}), flush=True)
            return 0
        revoked = admin.execute(
            f"mutation($i: Int!) {{ revokeCredential(id: $i) {{ {_CREDENTIAL} }} }}", {"i": args.id}
        )
        return _print(args, [revoked["revokeCredential"]], _CREDENTIAL)


def subscriptions_command(args: argparse.Namespace, *, client: AdminClient | None = None) -> int:
    with _client(args, client) as admin:
        verb = args.subscriptions_command
        if verb == "list":
            query = (
                f"query($p: String, $s: String, $a: Int) {{ subscriptions(product: $p, state: $s, applicationId: $a) "
                f"{{ {_SUBSCRIPTION} }} }}"
            )
            variables = {"p": args.product, "s": args.state, "a": args.application}
            return _print(args, admin.execute(query, variables)["subscriptions"], _SUBSCRIPTION)
        if verb == "request":
            mutation = (
                f"mutation($a: Int!, $p: String!, $plan: String!) {{ requestSubscription(applicationId: $a, "
                f"product: $p, plan: $plan) {{ {_SUBSCRIPTION} }} }}"
            )
            answer = admin.execute(mutation, {"a": args.application, "p": args.product, "plan": args.plan})
            return _print(args, [answer["requestSubscription"]], _SUBSCRIPTION)
        field = f"{verb}Subscription"
        answer = admin.execute(f"mutation($i: Int!) {{ {field}(id: $i) {{ {_SUBSCRIPTION} }} }}", {"i": args.id})
        return _print(args, [answer[field]], _SUBSCRIPTION)


def audit_command(args: argparse.Namespace, *, client: AdminClient | None = None) -> int:
    query = (
        "query($l: Int!, $a: String, $k: String, $n: String, $w: String, $o: String) { auditEvents(limit: $l, "
        f"action: $a, targetKind: $k, targetName: $n, actor: $w, outcome: $o) {{ {_EVENT} }} }}"
    )
    variables = {
        "l": args.limit,
        "a": args.action,
        "k": args.target_kind,
        "n": args.target_name,
        "w": args.actor,
        "o": args.outcome,
    }
    with _client(args, client) as admin:
        return _print(args, admin.execute(query, variables)["auditEvents"], _EVENT)


# --- output --------------------------------------------------------------------------------------------------------


class _Borrowed:
    """A caller's client, left open (it owns it)."""

    def __init__(self, client: AdminClient) -> None:
        self.client = client

    def __enter__(self) -> AdminClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        return None


def _client(args: argparse.Namespace, client: AdminClient | None) -> Any:
    return _Borrowed(client) if client is not None else AdminClient(args.server, args.token)


def _render(output: str, value: Any) -> str:
    if output == "json":
        return json.dumps(value, indent=2)
    return yaml.safe_dump(value, sort_keys=False).rstrip("\n")


def _print(args: argparse.Namespace, rows: Sequence[Mapping[str, Any]], fields: str, *, out: Any = None) -> int:
    out = out or sys.stdout
    if args.output != "table":
        print(_render(args.output, list(rows)), file=out)
        return 0
    columns = fields.split()
    table = [[_header(c) for c in columns]] + [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    print("\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table), file=out)
    return 0


def _header(field: str) -> str:
    return "".join(f"_{ch}" if ch.isupper() else ch for ch in field).upper()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text[:19].replace("T", " ") if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T" else text
