import { createContext, useContext } from "react";
import type { Viewer } from "./roles";

export const ViewerContext = createContext<Viewer | null>(null);

/** The signed-in user; the app renders its pages only once it knows them. */
export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error("useViewer outside the signed-in app");
  return viewer;
}
