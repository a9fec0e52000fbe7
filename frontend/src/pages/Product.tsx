import { Link, useParams, useSearchParams } from "react-router-dom";
import { Changelog } from "../components/Changelog";
import { RestReference } from "../components/RestReference";
import { SchemaReference } from "../components/SchemaReference";
import { ErrorMessage, Loading } from "../components/States";
import { SubscribeForm } from "../components/SubscribeForm";
import { Tabs } from "../components/Tabs";
import { TryIt } from "../components/TryIt";
import { shownVersion, sourceText } from "../lib/catalog";
import { windowText } from "../lib/durations";
import { stitchingOf } from "../lib/stitching";
import { TagList } from "../components/TagList";
import { useQuery } from "../lib/useQuery";
import { ProductQuery } from "../operations";

const TABS = [
  { id: "overview", title: "Overview" },
  { id: "versions", title: "Versions" },
  { id: "changes", title: "Changes" },
  { id: "schema", title: "Schema" },
  { id: "rest", title: "REST" },
  { id: "try", title: "Try it" },
  { id: "subscribe", title: "Subscribe" },
] as const;
type TabId = (typeof TABS)[number]["id"];

export function ProductPage() {
  const { name = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const [result, reload] = useQuery(ProductQuery, { name });
  const requested = params.get("tab");
  const tab: TabId = TABS.find((t) => t.id === requested)?.id ?? "overview";
  const choose = (id: TabId) => setParams(id === "overview" ? {} : { tab: id }, { replace: true });

  if (result.state === "loading") return <Loading what={`product ${name}`} />;
  if (result.state === "error") {
    return (
      <>
        <h1>{name}</h1>
        <ErrorMessage error={result.error} onRetry={reload} />
        <p>
          <Link to="/">Back to the catalog</Link>
        </p>
      </>
    );
  }
  const { product, plans } = result.data;
  const current = shownVersion(product);
  const routing = current?.routing ?? { clusters: [], residency: null };
  const productPlans = plans.filter((plan) => product.plans.includes(plan.name));
  const stitching = stitchingOf(current ?? null);

  return (
    <>
      <p className="crumbs">
        <Link to="/">Catalog</Link> / {product.name}
      </p>
      <h1>{product.displayName || product.name}</h1>
      <p className="card-team">
        by {product.team} · version {current?.version ?? "none yet"} ·{" "}
        <span className={`badge badge-${current?.lifecycle ?? "draft"}`}>{current?.lifecycle ?? "draft"}</span>
      </p>
      {product.tags.length ? <TagList tags={product.tags} /> : null}
      <Tabs label="Product sections" tabs={TABS} current={tab} onChange={choose} idPrefix="product" />
      <section role="tabpanel" id="product-panel" aria-labelledby={`product-tab-${tab}`} className="panel">
        {tab === "overview" ? (
          <>
            <h2>Overview</h2>
            <p>{product.description || "This product has no description yet."}</p>
            <dl className="facts">
              <dt>Team</dt>
              <dd>{product.team}</dd>
              <dt>Clusters</dt>
              <dd>{routing.clusters.length ? routing.clusters.join(", ") : "none"}</dd>
              <dt>Residency</dt>
              <dd>{routing.residency ?? "any (not pinned to a zone)"}</dd>
              <dt>GraphQL endpoint</dt>
              <dd>
                <code>{`${window.location.origin}/products/${product.name}/graphql`}</code>
              </dd>
              <dt>Sources</dt>
              <dd>{current?.sources.map((s) => s.service).join(", ") || "none"}</dd>
            </dl>
            {stitching.links.length ? (
              <>
                <h3>Links between services</h3>
                <ul aria-label="Links between services">
                  {stitching.links.map((link) => (
                    <li key={link.text}>
                      <code>{link.text}</code>
                      <br />
                      {link.description ? `${link.description} ` : ""}
                      <span className="hint">{link.sentence}</span>
                    </li>
                  ))}
                </ul>
              </>
            ) : null}
            <Facts title="Types several services define" items={stitching.prefer} />
            <Facts
              title="Names renamed by pattern"
              items={stitching.renames.map((source) => `${source.service}: ${source.patterns.join("; ")}`)}
            />
            <h3>Plans</h3>
            {productPlans.length === 0 ? (
              <p>No plan offers this product yet: it cannot be subscribed to.</p>
            ) : (
              <ul>
                {productPlans.map((plan) => (
                  <li key={plan.name}>
                    <strong>{plan.displayName || plan.name}</strong>: {plan.rateLimitRequests} requests per{" "}
                    {windowText(plan.rateLimitPerSeconds)}, {plan.authKinds.join(" or ")},{" "}
                    {plan.autoApprove ? "approved at once" : "approved by the team"}
                  </li>
                ))}
              </ul>
            )}
          </>
        ) : tab === "versions" ? (
          <>
            <h2>Versions</h2>
            <table className="stack">
              <caption className="visually-hidden">Versions of {product.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Lifecycle</th>
                  <th scope="col">Clusters</th>
                  <th scope="col">Built from</th>
                  <th scope="col">Published by</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {[...product.versions].reverse().map((version) => (
                  <tr key={version.version}>
                    <td data-label="Version">
                      {version.version}
                      {version.version === product.currentVersion ? " (current)" : ""}
                    </td>
                    <td data-label="Lifecycle">
                      <span className={`badge badge-${version.lifecycle}`}>{version.lifecycle}</span>
                    </td>
                    <td data-label="Clusters">{version.routing.clusters.join(", ") || "none"}</td>
                    <td data-label="Built from">{version.sources.map(sourceText).join("; ")}</td>
                    <td data-label="Published by">{version.createdBy}</td>
                    <td data-label="Created">{new Date(version.createdAt).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : tab === "changes" ? (
          <Changelog versions={product.versions} current={product.currentVersion} />
        ) : tab === "schema" ? (
          <SchemaReference sdl={current?.composedSdl ?? null} />
        ) : tab === "rest" ? (
          <RestReference product={product.name} rest={current?.rest ?? []} />
        ) : tab === "try" ? (
          <TryIt product={product.name} sdl={current?.composedSdl ?? null} />
        ) : (
          <SubscribeForm product={product.name} plans={productPlans} />
        )}
      </section>
    </>
  );
}

/** A titled list of lines, or nothing when there are none. */
function Facts({ title, items }: { title: string; items: string[] }) {
  if (items.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul aria-label={title}>
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </>
  );
}
