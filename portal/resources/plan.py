"""Plan resources: a rate limit, the auth kinds a subscription may use, and whether approval is automatic."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor
from portal.models import Plan, Product, ProductPlan, Subscription, utcnow
from portal.resources.change import Change
from portal.resources.handler import Names, Pending
from portal.resources.world import World

__all__ = ["PlanHandler"]

_PER_SECONDS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SECONDS_PER = {v: k for k, v in _PER_SECONDS.items()}


def _plan_values(resource: m.Plan) -> dict[str, Any]:
    spec = resource.spec
    return {
        "description": resource.metadata.description or "",
        "rate_limit_requests": spec.rate_limit.requests,
        "rate_limit_per_seconds": _PER_SECONDS[spec.rate_limit.per],
        "auth_kinds": list(spec.auth),
        "auto_approve": spec.approval == "automatic",
    }


class PlanHandler:
    kind: ClassVar[str] = "Plan"
    action: ClassVar[str] = "plan.apply"
    row_type: ClassVar[type[Any]] = Plan

    def read(self, session: Session, row: Any, names: Names) -> m.Resource:
        assert isinstance(row, Plan)
        per = _SECONDS_PER.get(row.rate_limit_per_seconds)
        requests = row.rate_limit_requests
        if per is None:  # a limit set elsewhere over an odd window: express it per second, never more permissive
            per, requests = "second", max(1, requests // row.rate_limit_per_seconds)
        return m.Plan.model_validate(
            {
                "apiVersion": m.API_VERSION,
                "kind": "Plan",
                "metadata": {"name": row.name, "description": row.description or None},
                "spec": {
                    "rateLimit": {"requests": requests, "per": per},
                    "auth": list(row.auth_kinds),
                    "approval": "automatic" if row.auto_approve else "manual",
                },
            }
        )

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        assert isinstance(doc.resource, m.Plan)
        row = world.plans.get(doc.name)
        if row is None:
            return Pending(doc, Change("Plan", doc.name, "created"))
        changed = [key for key, value in _plan_values(doc.resource).items() if getattr(row, key) != value]
        return Pending(doc, Change("Plan", doc.name, "updated" if changed else "unchanged", tuple(changed)))

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        resource = item.doc.resource
        assert isinstance(resource, m.Plan)
        values = _plan_values(resource)
        row = world.plans.get(resource.metadata.name)
        if row is None:
            row = Plan(name=resource.metadata.name, **values)
            world.plans[row.name] = row
        else:
            for key, value in values.items():
                setattr(row, key, value)
        row.updated_at = utcnow()
        session.add(row)

    def users(self, session: Session, row: Any) -> list[str]:
        offering = session.exec(
            select(Product.name)
            .join(ProductPlan, col(ProductPlan.product_id) == col(Product.id))
            .where(ProductPlan.plan_id == row.id)
        ).all()
        out = [f"product {n!r}" for n in sorted(offering)]
        subs = session.exec(select(Subscription.id).where(Subscription.plan_id == row.id)).all()
        if subs:
            out.append(f"{len(subs)} subscription(s)")
        return out
