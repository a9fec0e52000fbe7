import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <>
      <h1>No such page</h1>
      <p>
        This address is not a page of the portal. <Link to="/">Back to the catalog</Link>
      </p>
    </>
  );
}
