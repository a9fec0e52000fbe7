"""The admin API's mutations. Each one calls the service layer, which authorizes and audits (allowed and denied);
``MUTATION_ACTIONS`` names the authorization action each mutation performs (the matrix test checks it is complete).

Declarative kinds (Cluster, Team, Service, Product, Plan) change through ``apply`` and ``delete``, the same code
path as ``loom apply``; everything else has its own mutation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON
from strawberry.types import Info

from portal import accounts, applications, models as m, subscriptions
from portal.api import types as t
from portal.api.context import Context, run_mutation
from portal.authorization import Actor
from portal.errors import Forbidden, Invalid, NotFound

__all__ = ["MUTATION_ACTIONS", "Mutation"]

MUTATION_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "apply": ("cluster.apply", "team.apply", "plan.apply", "service.publish", "service.publish.force", "product.apply"),
    "deleteResource": ("cluster.delete", "team.delete", "plan.delete", "service.delete", "product.delete"),
    "createUser": ("user.create", "token.create"),
    "setMembership": ("membership.apply",),
    "removeMembership": ("membership.delete",),
    "changePassword": ("user.password",),
    "deactivateUser": ("user.deactivate",),
    "createToken": ("token.create",),
    "revokeToken": ("token.revoke",),
    "createApplication": ("application.create",),
    "deleteApplication": ("application.delete",),
    "createApiKey": ("credential.create",),
    "createOAuthClient": ("credential.create",),
    "revokeCredential": ("credential.revoke",),
    "requestSubscription": ("subscription.request",),
    "approveSubscription": ("subscription.approve",),
    "rejectSubscription": ("subscription.reject",),
    "revokeSubscription": ("subscription.revoke",),
    "rotateSigningKey": ("signing_key.rotate",),
    "retireSigningKey": ("signing_key.rotate",),
}
"""GraphQL mutation -> the authorization actions it may perform (``apply``: per document kind)."""


def _change(change: Mapping[str, Any]) -> t.Change:
    """A ``portal.resources`` change (``{kind, name, action, details}``) as the API's ``Change``."""
    return t.Change(
        kind=str(change["kind"]),
        name=str(change["name"]),
        action=str(change["action"]),
        details=[str(d) for d in change.get("details") or ()],
    )


def _named_user_or_caller(session: Session, actor: Actor, user: str | None, fix: str) -> m.User:
    """The user named by ``user``, else the signed-in caller; ``fix`` says what to name when the caller is no user."""
    if user is not None:
        return accounts.find_user(session, user)
    if actor.user_id is not None and (row := session.get(m.User, actor.user_id)) is not None:
        return row
    raise Invalid(f"the caller is no user: {fix}", path="user")


# --- objects addressed by id ---------------------------------------------------------------------------------------


def _team_names(session: Session, *team_ids: int | None) -> set[str]:
    names = set()
    for team_id in team_ids:
        team = session.get(m.Team, team_id) if team_id is not None else None
        if team is not None:
            names.add(team.name)
    return names


def _can_see(session: Session, actor: Actor, kind: str, object_id: int) -> bool:
    """Whether ``actor`` may know that the ``kind`` with ``object_id`` exists (the same rule as the queries)."""
    if actor.platform_admin or actor.kind == "system":
        return True
    application: m.Application | None = None
    teams: set[str] = set()
    if kind == "application":
        application = session.get(m.Application, object_id)
    elif kind == "credential":
        credential = session.get(m.Credential, object_id)
        application = session.get(m.Application, credential.application_id) if credential else None
    elif kind == "subscription":
        subscription = session.get(m.Subscription, object_id)
        if subscription is not None:
            application = session.get(m.Application, subscription.application_id)
            product = session.get(m.Product, subscription.product_id)
            teams |= _team_names(session, product.team_id if product else None)
    if application is None:
        return False
    teams |= _team_names(session, application.team_id)
    return application.owner_id == actor.user_id or bool(teams & set(actor.team_roles))


def _by_id(session: Session, actor: Actor, kind: str, object_id: int, work: Callable[[], T]) -> T:
    """Run ``work`` on the ``kind`` with ``object_id``; what the caller may not see answers exactly like what does
    not exist (ids and names must not leak through FORBIDDEN), the refusal audited as usual."""
    try:
        return work()
    except (Forbidden, NotFound) as exc:
        if _can_see(session, actor, kind, object_id):  # it may know the object: the real reason helps it
            raise
        raise NotFound(f"{kind} {object_id} does not exist or is not yours") from exc


T = TypeVar("T")


@strawberry.type
class SigningKey:
    kid: str
    algorithm: str
    active: bool


@strawberry.type
class Mutation:
    @t.described_mutation(
        "Apply declarative resources (the documents of `loom apply` as JSON objects, schemas inline): validated "
        "together, written in one transaction; with dryRun, only report what would change; with force, publish a "
        "service change that breaks a published product's composition (audited)."
    )
    async def apply(
        self, info: Info[Context, None], documents: JSON, dry_run: bool = False, force: bool = False
    ) -> list[t.Change]:
        from portal import resources

        max_bytes = info.context.settings.auth.max_document_bytes
        items = documents if isinstance(documents, list) else [documents]

        def prepare(session: Session, actor: Actor) -> tuple[list[Any], list[resources.SchemaFetch]]:
            parsed = resources.parse_json(items, max_bytes=max_bytes)
            return parsed, resources.schema_fetches(session, actor, parsed)

        parsed, fetches = await run_mutation(info, "resources.apply", "resource", prepare)
        # Schemas from deployments, after authorization: through the app's HTTP client (when its lifespan runs;
        # fetch_schemas makes one for the call otherwise), capped like a schema given in a file.
        http = getattr(info.context.request.app.state, "http_client", None)
        parsed = await resources.fetch_schemas(parsed, fetches, http=http, max_bytes=max_bytes)

        def work(session: Session, actor: Actor) -> list[t.Change]:
            changes = [c.as_dict() for c in resources.apply(session, actor, parsed, dry_run=dry_run, force=force)]
            if dry_run:
                session.rollback()  # apply writes nothing in a dry run; make sure nothing is committed either
            return [_change(c) for c in changes]

        return await run_mutation(info, "resources.apply", "resource", work)

    @t.described_mutation(
        "Delete one declarative resource (Cluster, Team, Service, Product or Plan) by name; refused while in use.",
        name="deleteResource",
    )
    async def delete_resource(self, info: Info[Context, None], kind: str, name: str) -> JSON:
        from portal import resources

        def work(session: Session, actor: Actor) -> JSON:
            return JSON(resources.delete(session, actor, kind, name).as_dict())

        return await run_mutation(info, "resources.delete", kind.lower(), work)

    @t.described_mutation("Create a user with one role; returns a personal access token for them, shown only now.")
    async def create_user(
        self,
        info: Info[Context, None],
        name: str,
        role: str,
        team: str | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> t.CreatedUser:
        def work(session: Session, actor: Actor) -> t.CreatedUser:
            user = accounts.create_user(session, actor, name=name, role=role, team=team, email=email, password=password)
            issued = accounts.create_token(session, actor, user, name="api")
            return t.CreatedUser(user=t.User.of(session, user), token=issued.token)

        return await run_mutation(info, "user.create", "user", work)

    @t.described_mutation("Give a user exactly one role (team-admin, team-member, viewer) in a team.")
    async def set_membership(self, info: Info[Context, None], user: str, team: str, role: str) -> t.User:
        def work(session: Session, actor: Actor) -> t.User:
            return t.User.of(session, accounts.set_membership(session, actor, user, team, role))

        return await run_mutation(info, "membership.apply", "membership", work)

    @t.described_mutation("Remove a user from a team.")
    async def remove_membership(self, info: Info[Context, None], user: str, team: str) -> t.User:
        def work(session: Session, actor: Actor) -> t.User:
            return t.User.of(session, accounts.remove_membership(session, actor, user, team))

        return await run_mutation(info, "membership.delete", "membership", work)

    @t.described_mutation(
        "Change a local account's password: one's own (with currentPassword), or any user's for a platform admin."
    )
    async def change_password(
        self,
        info: Info[Context, None],
        new_password: str,
        current_password: str | None = None,
        user: str | None = None,
    ) -> t.User:
        def work(session: Session, actor: Actor) -> t.User:
            row = _named_user_or_caller(session, actor, user, "name the user whose password to set")
            changed = accounts.change_password(session, actor, row, new_password, current_password=current_password)
            return t.User.of(session, changed)

        return await run_mutation(info, "user.password", "user", work)

    @t.described_mutation(
        "Deactivate a user (platform admins): no more logins, every personal access token revoked; nothing deleted."
    )
    async def deactivate_user(self, info: Info[Context, None], name: str) -> t.User:
        def work(session: Session, actor: Actor) -> t.User:
            row = accounts.deactivate_user(session, actor, accounts.find_user(session, name))
            return t.User.of(session, row)

        return await run_mutation(info, "user.deactivate", "user", work)

    @t.described_mutation("Create a personal access token (one's own; a platform admin may name another user).")
    async def create_token(
        self,
        info: Info[Context, None],
        name: str = "api",
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> t.IssuedToken:
        def work(session: Session, actor: Actor) -> t.IssuedToken:
            owner = _named_user_or_caller(session, actor, user, "name the token's user")
            issued = accounts.create_token(session, actor, owner, name=name, expires_in_days=expires_in_days)
            return t.IssuedToken(token=issued.token, info=t.Token.of(session, issued.row))

        return await run_mutation(info, "token.create", "token", work)

    @t.described_mutation("Revoke a personal access token by its id or its prefix.")
    async def revoke_token(self, info: Info[Context, None], id: str) -> t.Token:
        def work(session: Session, actor: Actor) -> t.Token:
            return t.Token.of(session, accounts.revoke_token(session, actor, id))

        return await run_mutation(info, "token.revoke", "token", work)

    @t.described_mutation("Create an application owned by the caller (optionally on behalf of a team).")
    async def create_application(
        self, info: Info[Context, None], name: str, description: str = "", team: str | None = None
    ) -> t.Application:
        def work(session: Session, actor: Actor) -> t.Application:
            row = applications.create_application(session, actor, name=name, team=team, description=description)
            return t.Application.of(session, row)

        return await run_mutation(info, "application.create", "application", work)

    @t.described_mutation(
        "Delete an application with its credentials (its owner, or a platform admin); refused while it has a "
        "requested or approved subscription. Returns the application as it was."
    )
    async def delete_application(self, info: Info[Context, None], id: int) -> t.Application:
        def work(session: Session, actor: Actor) -> t.Application:
            def delete() -> t.Application:
                before = t.Application.of(session, applications.find_application(session, id))
                applications.delete_application(session, actor, id)
                return before

            return _by_id(session, actor, "application", id, delete)

        return await run_mutation(info, "application.delete", "application", work)

    @t.described_mutation("Issue an API key for an application; the key is shown only now.")
    async def create_api_key(
        self, info: Info[Context, None], application_id: int, name: str = "", expires_in_days: int | None = None
    ) -> t.IssuedCredential:
        def work(session: Session, actor: Actor) -> t.IssuedCredential:
            def create() -> applications.IssuedCredential:
                app = applications.find_application(session, application_id)
                return applications.create_api_key(session, actor, app, name=name, expires_in_days=expires_in_days)

            issued = _by_id(session, actor, "application", application_id, create)
            return t.IssuedCredential(credential=t.Credential.of(issued.row), secret=issued.secret)

        return await run_mutation(info, "credential.create", "credential", work)

    @t.described_mutation(
        "Register an OAuth2 client (client credentials) for an application; the secret is shown now.",
        name="createOAuthClient",
    )
    async def create_oauth_client(
        self, info: Info[Context, None], application_id: int, name: str = "", expires_in_days: int | None = None
    ) -> t.IssuedCredential:
        def work(session: Session, actor: Actor) -> t.IssuedCredential:
            def create() -> applications.IssuedCredential:
                app = applications.find_application(session, application_id)
                return applications.create_oauth_client(session, actor, app, name=name, expires_in_days=expires_in_days)

            issued = _by_id(session, actor, "application", application_id, create)
            return t.IssuedCredential(credential=t.Credential.of(issued.row), secret=issued.secret)

        return await run_mutation(info, "credential.create", "credential", work)

    @t.described_mutation("Revoke a credential. The application's subscriptions stay.")
    async def revoke_credential(self, info: Info[Context, None], id: int) -> t.Credential:
        def work(session: Session, actor: Actor) -> t.Credential:
            row = _by_id(session, actor, "credential", id, lambda: applications.revoke_credential(session, actor, id))
            return t.Credential.of(row)

        return await run_mutation(info, "credential.revoke", "credential", work)

    @t.described_mutation("Subscribe an application to a product under a plan (approved at once if the plan says so).")
    async def request_subscription(
        self, info: Info[Context, None], application_id: int, product: str, plan: str
    ) -> t.Subscription:
        def work(session: Session, actor: Actor) -> t.Subscription:
            sub = _by_id(
                session,
                actor,
                "application",
                application_id,
                lambda: subscriptions.request(session, actor, application_id, product, plan),
            )
            return t.Subscription.of(session, sub)

        return await run_mutation(info, "subscription.request", "subscription", work)

    @t.described_mutation("Approve a requested subscription (a team admin of the product).")
    async def approve_subscription(self, info: Info[Context, None], id: int) -> t.Subscription:
        def work(session: Session, actor: Actor) -> t.Subscription:
            sub = _by_id(session, actor, "subscription", id, lambda: subscriptions.approve(session, actor, id))
            return t.Subscription.of(session, sub)

        return await run_mutation(info, "subscription.approve", "subscription", work)

    @t.described_mutation("Reject a requested subscription (a team admin of the product).")
    async def reject_subscription(self, info: Info[Context, None], id: int) -> t.Subscription:
        def work(session: Session, actor: Actor) -> t.Subscription:
            sub = _by_id(session, actor, "subscription", id, lambda: subscriptions.reject(session, actor, id))
            return t.Subscription.of(session, sub)

        return await run_mutation(info, "subscription.reject", "subscription", work)

    @t.described_mutation("Revoke an approved subscription (a team admin of the product, or the consumer).")
    async def revoke_subscription(self, info: Info[Context, None], id: int) -> t.Subscription:
        def work(session: Session, actor: Actor) -> t.Subscription:
            sub = _by_id(session, actor, "subscription", id, lambda: subscriptions.revoke(session, actor, id))
            return t.Subscription.of(session, sub)

        return await run_mutation(info, "subscription.revoke", "subscription", work)

    @t.described_mutation("Add a new OAuth2 signing key that signs every token from now on (platform admins).")
    async def rotate_signing_key(self, info: Info[Context, None]) -> SigningKey:
        from portal import oauth

        settings = info.context.settings

        def work(session: Session, actor: Actor) -> SigningKey:
            row = oauth.rotate_signing_key(session, settings, actor)
            return SigningKey(kid=row.kid, algorithm=row.algorithm, active=row.active)

        return await run_mutation(info, "signing_key.rotate", "signing_key", work)

    @t.described_mutation("Stop publishing an old signing key; tokens it signed stop verifying (platform admins).")
    async def retire_signing_key(self, info: Info[Context, None], kid: str) -> SigningKey:
        from portal import oauth

        def work(session: Session, actor: Actor) -> SigningKey:
            row = oauth.retire_signing_key(session, actor, kid)
            return SigningKey(kid=row.kid, algorithm=row.algorithm, active=row.active)

        return await run_mutation(info, "signing_key.rotate", "signing_key", work)
