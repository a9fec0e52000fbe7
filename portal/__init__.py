"""Loom's control plane: developer portal, admin API, declarative resources, auth, RBAC, audit and sync."""

from portal.settings import Settings

__all__ = ["Settings"]
