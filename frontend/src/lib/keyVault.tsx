// API keys created in this tab, by credential id, so GraphiQL can use one without pasting it. Kept in memory only:
// never in localStorage or sessionStorage, where any script of the origin could read it later; a reload forgets.
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";

interface KeyVault {
  secretOf(credentialId: number): string | undefined;
  remember(credentialId: number, secret: string): void;
}

const VaultContext = createContext<KeyVault | null>(null);

export function KeyVaultProvider({ children }: { children: ReactNode }) {
  const [secrets, setSecrets] = useState<ReadonlyMap<number, string>>(new Map());
  const vault = useMemo<KeyVault>(
    () => ({
      secretOf: (id) => secrets.get(id),
      remember: (id, secret) => setSecrets((previous) => new Map(previous).set(id, secret)),
    }),
    [secrets],
  );
  return <VaultContext.Provider value={vault}>{children}</VaultContext.Provider>;
}

export function useKeyVault(): KeyVault {
  const vault = useContext(VaultContext);
  if (!vault) throw new Error("useKeyVault outside KeyVaultProvider");
  return vault;
}
