import { Link } from "react-router-dom";

/** A product's tags; each links to the catalog filtered by it. */
export function TagList({ tags }: { tags: string[] }) {
  return (
    <ul className="tags" aria-label="Tags">
      {tags.map((tag) => (
        <li key={tag}>
          <Link className="tag" to={`/?tag=${encodeURIComponent(tag)}`} aria-label={`Products tagged ${tag}`}>
            {tag}
          </Link>
        </li>
      ))}
    </ul>
  );
}
