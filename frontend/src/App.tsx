import { NavLink, Route, Routes } from "react-router-dom";
import { ErrorMessage, Loading } from "./components/States";
import { signInUrl, signOut } from "./lib/api";
import { KeyVaultProvider } from "./lib/keyVault";
import { roleLabel } from "./lib/roles";
import { ViewerContext } from "./lib/session";
import { useQuery } from "./lib/useQuery";
import { MeQuery } from "./operations";
import { ApplicationsPage } from "./pages/Applications";
import { AuditPage } from "./pages/Audit";
import { CatalogPage } from "./pages/Catalog";
import { ComposePage } from "./pages/Compose";
import { FleetPage } from "./pages/Fleet";
import { NotFoundPage } from "./pages/NotFound";
import { ProductPage } from "./pages/Product";
import { PublishPage } from "./pages/Publish";
import { SubscriptionsPage } from "./pages/Subscriptions";

export function App() {
  const [me] = useQuery(MeQuery);
  if (me.state === "loading") return <Loading what="your session" />;
  if (me.state === "error") {
    return (
      <main id="main" className="page">
        <h1>Loom</h1>
        <ErrorMessage error={me.error} onRetry={() => window.location.reload()} />
      </main>
    );
  }
  const viewer = me.data.me;
  if (!viewer) {
    return (
      <main id="main" className="page">
        <h1>Loom</h1>
        <p>
          This session belongs to no user. <a href={signInUrl()}>Sign in</a>
        </p>
      </main>
    );
  }
  return (
    <ViewerContext.Provider value={viewer}>
      <KeyVaultProvider>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="top">
          <span className="brand">Loom</span>
          <nav aria-label="Main">
            <NavLink to="/" end>
              Catalog
            </NavLink>
            <NavLink to="/apps">Applications</NavLink>
            <NavLink to="/subscriptions">Subscriptions</NavLink>
            {viewer.memberships.some((m) => m.team !== null && m.role !== "viewer") ? (
              <>
                <NavLink to="/publish">Publish</NavLink>
                <NavLink to="/compose">Compose</NavLink>
              </>
            ) : null}
            {viewer.memberships.length > 0 ? <NavLink to="/fleet">Fleet</NavLink> : null}
            <NavLink to="/audit">Audit log</NavLink>
          </nav>
          <span className="who">
            <span className="who-name">{viewer.displayName || viewer.name}</span>{" "}
            <span className="who-role">({roleLabel(viewer)})</span>
          </span>
          <button type="button" className="sign-out" onClick={() => void signOut()}>
            Sign out
          </button>
        </header>
        <main id="main" className="page" tabIndex={-1}>
          {/* portal/web.py serves index.html for these paths only (tests/ui/test_web.py checks the two agree) */}
          <Routes>
            <Route path="/" element={<CatalogPage />} />
            <Route path="/catalog" element={<CatalogPage />} />
            <Route path="/catalog/:name" element={<ProductPage />} />
            <Route path="/apps" element={<ApplicationsPage />} />
            <Route path="/subscriptions" element={<SubscriptionsPage />} />
            <Route path="/publish" element={<PublishPage />} />
            <Route path="/compose" element={<ComposePage />} />
            <Route path="/fleet" element={<FleetPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </main>
      </KeyVaultProvider>
    </ViewerContext.Provider>
  );
}
