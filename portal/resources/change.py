"""What ``apply`` or ``delete`` did (or, in a dry run, would do) to one resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Change", "ChangeAction"]

ChangeAction = Literal["created", "updated", "unchanged", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """What ``apply`` did (or, in a dry run, would do) to one resource."""

    kind: str
    name: str
    action: ChangeAction
    details: tuple[str, ...] = ()

    def line(self, *, dry_run: bool = False) -> str:
        text = f"{self.kind.lower()}/{self.name} {self.action}"
        if self.details:
            text += f" ({'; '.join(self.details)})"
        return text + (" (dry run)" if dry_run and self.action != "unchanged" else "")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "details": list(self.details)}
