import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { TagList } from "../components/TagList";
import { cardOf, choices, filterCards, filtersOf, NO_FILTERS, paramsOf, type Card, type Filters } from "../lib/catalog";
import { useQuery } from "../lib/useQuery";
import { CatalogQuery } from "../operations";

export function CatalogPage() {
  const [result, reload] = useQuery(CatalogQuery);
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params);
  const cards = useMemo(() => (result.state === "done" ? result.data.products.map(cardOf) : []), [result]);
  const shown = filterCards(cards, filters);
  const setFilters = (next: Filters) => setParams(paramsOf(next), { replace: true });
  const set = (change: Partial<Filters>) => setFilters({ ...filters, ...change });
  const tags = choices(cards, "tag");
  if (filters.tag && !tags.includes(filters.tag)) tags.push(filters.tag); // a link to a tag nobody has (yet)

  return (
    <>
      <h1>Catalog</h1>
      <form className="filters" role="search" aria-label="Filter products" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" value={filters.search} onChange={(e) => set({ search: e.target.value })} />
        </label>
        <label>
          Team
          <select value={filters.team} onChange={(e) => set({ team: e.target.value })}>
            <option value="">Any team</option>
            {choices(cards, "team").map((team) => (
              <option key={team}>{team}</option>
            ))}
          </select>
        </label>
        <label>
          Tag
          <select value={filters.tag} onChange={(e) => set({ tag: e.target.value })}>
            <option value="">Any tag</option>
            {tags.map((tag) => (
              <option key={tag}>{tag}</option>
            ))}
          </select>
        </label>
        <label>
          Lifecycle
          <select value={filters.lifecycle} onChange={(e) => set({ lifecycle: e.target.value })}>
            <option value="">Any lifecycle</option>
            {choices(cards, "lifecycle").map((lifecycle) => (
              <option key={lifecycle}>{lifecycle}</option>
            ))}
          </select>
        </label>
      </form>
      {result.state === "loading" ? (
        <Loading what="the catalog" />
      ) : result.state === "error" ? (
        <ErrorMessage error={result.error} onRetry={reload} />
      ) : cards.length === 0 ? (
        <Empty>
          <p>No product is published yet. A team publishes one with <code>loom apply</code>.</p>
        </Empty>
      ) : shown.length === 0 ? (
        <Empty>
          <p>No product matches these filters.</p>
          <button type="button" onClick={() => setFilters(NO_FILTERS)}>
            Clear the filters
          </button>
        </Empty>
      ) : (
        <ul className="cards" aria-label="Products">
          {shown.map((card) => (
            <ProductCard key={card.name} card={card} />
          ))}
        </ul>
      )}
    </>
  );
}

function ProductCard({ card }: { card: Card }) {
  return (
    <li className="card">
      <h2>
        <Link to={`/catalog/${encodeURIComponent(card.name)}`}>{card.title}</Link>
      </h2>
      <p className="card-team">by {card.team}</p>
      {card.description ? <p>{card.description}</p> : null}
      {card.tags.length ? <TagList tags={card.tags} /> : null}
      <dl className="facts">
        <dt>Version</dt>
        <dd>{card.version ?? "none yet"}</dd>
        <dt>Lifecycle</dt>
        <dd>
          <span className={`badge badge-${card.lifecycle}`}>{card.lifecycle}</span>
        </dd>
        <dt>Clusters</dt>
        <dd>{card.clusters.length ? card.clusters.join(", ") : "none"}</dd>
        <dt>Residency</dt>
        <dd>{card.residency ?? "any"}</dd>
      </dl>
    </li>
  );
}
