import { useState } from "react";

/** Copies `text` to the clipboard and says so (or says to copy by hand when the browser refuses). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [outcome, setOutcome] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setOutcome("copied");
    } catch {
      setOutcome("failed");
    }
  };
  return (
    <>
      <button type="button" onClick={copy} aria-label={label}>
        Copy
      </button>
      <span className="copy-outcome" role="status" aria-live="polite">
        {outcome === "copied" ? "Copied" : outcome === "failed" ? "The browser refused: select the key and copy it" : ""}
      </span>
    </>
  );
}
