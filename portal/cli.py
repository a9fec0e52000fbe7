"""The ``loom`` command line. Each command lives in the module that owns its concept; this file only wires them.

Any error exits non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]

# command -> "module:function"; imported lazily so `loom compose` never touches the database layer.
_HANDLERS: dict[str, str] = {
    "up": "portal.demo:up_command",
    "serve": "portal.server:serve_command",
    "migrate": "portal.db:migrate_command",
    "users": "portal.accounts:users_command",
    "tokens": "portal.accounts:tokens_command",
    "gateways": "portal.robots:gateways_command",
    "apps": "portal.commands:apps_command",
    "keys": "portal.commands:keys_command",
    "subscriptions": "portal.commands:subscriptions_command",
    "audit": "portal.commands:audit_command",
    "apply": "portal.resources:apply_command",
    "get": "portal.resources:get_command",
    "delete": "portal.resources:delete_command",
    "compose": "portal.composer:compose_command",
    "gateway": "stitcher.cli:gateway_command",
    "sync": "portal.sync.commands:sync_command",
    "status": "portal.sync.commands:status_command",
    "render": "portal.sync.commands:render_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loom", description="Loom: API products over many clusters")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the embedded demo (portal, gateway, demo clusters and services)")
    up.add_argument("--check", action="store_true", help="run one query across the demo services, then exit")
    up.add_argument("--host", default=None)
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--free-ports", action="store_true", help="serve the demo services on free ports, not 7301..")

    serve = sub.add_parser("serve", help="serve the portal and the gateway")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)

    sub.add_parser("migrate", help="migrate the database to the newest schema")

    users = sub.add_parser("users", help="manage users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a user; prints a personal access token last")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=["platform-admin", "team-admin", "team-member", "viewer"])
    create.add_argument("--team", default=None)
    create.add_argument("--email", default=None)
    password = users_sub.add_parser("password", help="set a user's local password (read from stdin)")
    password.add_argument("name")
    deactivate = users_sub.add_parser("deactivate", help="deactivate a user: no more logins, tokens revoked")
    deactivate.add_argument("name")

    tokens = sub.add_parser("tokens", help="manage personal access tokens")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    tcreate = tokens_sub.add_parser("create", help="create a token for a user; prints it last")
    tcreate.add_argument("user")
    tcreate.add_argument("--name", default="cli")
    tcreate.add_argument("--expires-in-days", type=int, default=None)
    trevoke = tokens_sub.add_parser("revoke", help="revoke a token by its id or prefix")
    trevoke.add_argument("token_id")

    for name in ("apply", "get", "delete"):
        p = sub.add_parser(name, help=f"{name} declarative resources")
        p.add_argument("--server", default=None, help="portal URL; default: the local database as platform admin")
        p.add_argument("--token", default=None, help="personal access token for --server")
        if name == "apply":
            p.add_argument("-f", "--filename", action="append", required=True, dest="files")
            p.add_argument("--dry-run", action="store_true")
            p.add_argument("--force", action="store_true", help="publish even if it breaks a published product")
        elif name == "get":
            p.add_argument("kind")
            p.add_argument("name", nargs="?")
            p.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
        else:
            p.add_argument("kind")
            p.add_argument("name")

    sync = sub.add_parser("sync", help="run the sync worker: program every cluster's Gloo or Envoy")
    sync.add_argument("--once", action="store_true", help="one pass, print each cluster's outcome, exit 1 on failure")

    status = sub.add_parser("status", help="what each cluster does now: sync state, verdicts, upstream health")
    status.add_argument("product", nargs="?", default=None)
    status.add_argument("--cluster", default=None)
    status.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table")
    status.add_argument("--server", default=None, help="portal URL; default: the local database as platform admin")
    status.add_argument("--token", default=None, help="personal access token for --server")

    render = sub.add_parser("render", help="print what the sync worker would apply to a cluster (no server)")
    render.add_argument("-f", "--filename", action="append", required=True, dest="files")
    render.add_argument("--cluster", required=True)
    render.add_argument("--target", choices=["gloo", "envoy"], default=None, help="default: the cluster's own")
    render.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")

    from portal.commands.consumer import add_parsers  # the consumer journey: apps, keys, subscriptions, audit

    add_parsers(sub)

    gateways = sub.add_parser("gateways", help="manage gateway robot accounts (read their clusters' snapshots only)")
    gateways_sub = gateways.add_subparsers(dest="gateways_command", required=True)
    gcreate = gateways_sub.add_parser("create", help="create a robot for some clusters; prints its token last")
    gcreate.add_argument("name")
    gcreate.add_argument("--cluster", action="append", required=True, help="a cluster it serves (repeatable)")
    gateways_sub.add_parser("list", help="list gateway robots and their clusters")

    compose = sub.add_parser("compose", help="compose a product offline from resource YAML")
    compose.add_argument("-f", "--filename", action="append", required=True, dest="files")
    compose.add_argument("--product", default=None)
    compose.add_argument("--supergraph", action="store_true", help="print the Federation v2 supergraph SDL")
    compose.add_argument("-o", "--output", choices=["sdl", "json"], default="sdl")

    gateway = sub.add_parser("gateway", help="serve products: one supergraph, or the portal's published products")
    source = gateway.add_mutually_exclusive_group(required=True)
    source.add_argument("--supergraph", default=None, help="a Federation v2 supergraph SDL file")
    source.add_argument("--portal", default=None, help="the portal URL to poll for the config snapshot")
    gateway.add_argument("--token", default=None)
    gateway.add_argument(
        "--cluster",
        default=None,
        help="serve what this cluster processes, reaching services through its Envoy (with --portal)",
    )
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=4000)
    gateway.add_argument(
        "--workers", type=int, default=None, help="processes serving the port (default LOOM_GATEWAY_WORKERS, 1)"
    )
    return parser


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, func = _HANDLERS[command].partition(":")
    module = importlib.import_module(module_name)
    handler: Callable[[argparse.Namespace], int] = getattr(module, func)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _handler(args.command)(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `loom render ... | head`: the reader left; say nothing more (Python's own advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # the contract: one line, non-zero exit
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"loom: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
