"""The admin GraphQL API at ``/api/graphql`` (Strawberry): every entity, ``apply``, error codes, audited."""

from portal.api.schema import PATH, AdminGraphQL, graphql_app, routes, schema

__all__ = ["PATH", "AdminGraphQL", "graphql_app", "routes", "schema"]
