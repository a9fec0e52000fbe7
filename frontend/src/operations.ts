// Every operation the UI sends, in one place; `npm run codegen` checks each against schema.graphql and types it.
import { graphql } from "./gql";

export const MeQuery = graphql(`
  query Me {
    me {
      name
      displayName
      memberships {
        team
        role
      }
    }
  }
`);

export const CatalogQuery = graphql(`
  query Catalog {
    products {
      name
      team
      displayName
      description
      tags
      currentVersion
      plans
      versions {
        version
        lifecycle
        routing {
          clusters
          residency
        }
      }
    }
  }
`);

export const ProductQuery = graphql(`
  query Product($name: String!) {
    product(name: $name) {
      name
      team
      displayName
      description
      tags
      currentVersion
      plans
      versions {
        version
        lifecycle
        routing {
          clusters
          residency
        }
        rest {
          method
          path
          operation
        }
        composedSdl
        createdBy
        createdAt
        sources {
          service
          serviceVersion
          transforms {
            prefix
            renameTypes {
              from
              to
            }
            renameFields {
              from
              to
            }
            hide
            typePatterns {
              pattern
              replacement
            }
            rootFieldPatterns {
              pattern
              replacement
            }
          }
        }
        prefer {
          type
          service
        }
        links {
          type
          field
          service
          operation
          arguments {
            argument
            from
          }
          returns
          description
        }
      }
    }
    plans {
      name
      displayName
      description
      rateLimitRequests
      rateLimitPerSeconds
      authKinds
      autoApprove
    }
  }
`);

export const ApplicationsQuery = graphql(`
  query Applications {
    applications {
      id
      name
      description
      owner
      team
      createdAt
      credentials {
        id
        kind
        name
        prefix
        clientId
        createdAt
        expiresAt
        revokedAt
        lastUsedAt
      }
      subscriptions {
        id
        product
        plan
        state
      }
    }
  }
`);

export const CreateApplicationMutation = graphql(`
  mutation CreateApplication($name: String!, $description: String!, $team: String) {
    createApplication(name: $name, description: $description, team: $team) {
      id
      name
    }
  }
`);

export const CreateApiKeyMutation = graphql(`
  mutation CreateApiKey($applicationId: Int!, $name: String!) {
    createApiKey(applicationId: $applicationId, name: $name) {
      secret
      credential {
        id
        prefix
        name
      }
    }
  }
`);

export const CreateOAuthClientMutation = graphql(`
  mutation CreateOAuthClient($applicationId: Int!, $name: String!) {
    createOAuthClient(applicationId: $applicationId, name: $name) {
      secret
      credential {
        id
        clientId
        name
      }
    }
  }
`);

export const RevokeCredentialMutation = graphql(`
  mutation RevokeCredential($id: Int!) {
    revokeCredential(id: $id) {
      id
      revokedAt
    }
  }
`);

export const SubscriptionsQuery = graphql(`
  query Subscriptions($state: String) {
    subscriptions(state: $state) {
      id
      applicationId
      application
      product
      plan
      state
      requestedBy
      decidedBy
      decidedAt
      createdAt
    }
    products {
      name
      team
    }
    plans {
      name
      rateLimitRequests
      rateLimitPerSeconds
    }
  }
`);

export const RequestSubscriptionMutation = graphql(`
  mutation RequestSubscription($applicationId: Int!, $product: String!, $plan: String!) {
    requestSubscription(applicationId: $applicationId, product: $product, plan: $plan) {
      id
      state
      plan
    }
  }
`);

export const ApproveSubscriptionMutation = graphql(`
  mutation ApproveSubscription($id: Int!) {
    approveSubscription(id: $id) {
      id
      state
    }
  }
`);

export const RejectSubscriptionMutation = graphql(`
  mutation RejectSubscription($id: Int!) {
    rejectSubscription(id: $id) {
      id
      state
    }
  }
`);

export const RevokeSubscriptionMutation = graphql(`
  mutation RevokeSubscription($id: Int!) {
    revokeSubscription(id: $id) {
      id
      state
    }
  }
`);

export const AuditQuery = graphql(`
  query Audit(
    $limit: Int!
    $offset: Int!
    $actor: String
    $action: String
    $targetKind: String
    $targetName: String
    $outcome: String
    $since: DateTime
    $until: DateTime
  ) {
    auditEvents(
      limit: $limit
      offset: $offset
      actor: $actor
      action: $action
      targetKind: $targetKind
      targetName: $targetName
      outcome: $outcome
      since: $since
      until: $until
    ) {
      id
      actor
      action
      targetKind
      targetName
      summary {
        key
        value
      }
      outcome
      via
      createdAt
    }
  }
`);

export const FleetQuery = graphql(`
  query Fleet {
    fleetStatus {
      cluster
      region
      zone
      residency
      target
      state
      message
      reachable
      versions {
        component
        version
      }
      appliedGeneration
      observedGeneration
      lastSuccessAt
      gateways {
        gateway
        version
        lastSeenAt
      }
      products {
        product
        cluster
        verdict
        reason
        appliedGeneration
        updatedAt
        upstreams {
          upstream
          service
          serving
          failedOver
          endpoints {
            cluster
            address
            priority
            healthy
            ejected
          }
        }
      }
    }
  }
`);

export const PublishQuery = graphql(`
  query Publish {
    services: resources(kind: "Service")
    clusters {
      name
    }
    teams {
      name
      placements {
        cluster
      }
    }
  }
`);

export const ApplyMutation = graphql(`
  mutation Apply($documents: JSON!, $dryRun: Boolean!, $force: Boolean! = false) {
    apply(documents: $documents, dryRun: $dryRun, force: $force) {
      kind
      name
      action
      details
    }
  }
`);

export const ComposerQuery = graphql(`
  query Composer {
    products: resources(kind: "Product")
    services: resources(kind: "Service")
    clusters {
      name
      residency
    }
    plans {
      name
      displayName
      autoApprove
    }
  }
`);

export const ComposePreviewQuery = graphql(`
  query ComposePreview($document: JSON!) {
    composePreview(document: $document) {
      composes
      sdl
      conflicts
      unpublished
    }
  }
`);

export const SubscriptionUsageQuery = graphql(`
  query SubscriptionUsage($id: Int!) {
    subscriptionUsage(id: $id) {
      known
      reason
      used
      limit
      windowSeconds
      resetsInSeconds
    }
  }
`);
