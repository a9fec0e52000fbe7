import { describe, expect, it } from "vitest";
import { guessMain, uploadOf } from "./schemaFiles";
import { readZip, ZipError } from "./zip";

// Made with Python's zipfile: api/openapi.yaml and api/schemas/pet.yaml deflated, a directory entry, stored.txt stored.
const ZIP =
  "UEsDBBQAAAAIAMVChF3JPRu5PAAAAKgAAAAQAAAAYXBpL29wZW5hcGkueWFtbMsvSM1LLMi0UjDWM9Az4MrMS8u3UqguySzJSbVSKNFRKEstKs7Mz7NSUDJUquUqSCzJKAbK13Ll01kfAFBLAwQUAAAACADFQoRdPYTwQQ8AAAANAAAAFAAAAGFwaS9zY2hlbWFzL3BldC55YW1sK6ksSLVSyE/KSk0u4QIAUEsDBBQAAAAIAMVChF0AAAAAAgAAAAAAAAAEAAAAYXBpLwMAUEsDBBQAAAAAAMVChF3PYiAZBQAAAAUAAAAKAAAAc3RvcmVkLnR4dHBsYWluUEsBAhQDFAAAAAgAxUKEXck9G7k8AAAAqAAAABAAAAAAAAAAAAAAAIABAAAAAGFwaS9vcGVuYXBpLnlhbWxQSwECFAMUAAAACADFQoRdPYTwQQ8AAAANAAAAFAAAAAAAAAAAAAAAgAFqAAAAYXBpL3NjaGVtYXMvcGV0LnlhbWxQSwECFAMUAAAACADFQoRdAAAAAAIAAAAAAAAABAAAAAAAAAAAABAA/UGrAAAAYXBpL1BLAQIUAxQAAAAAAMVChF3PYiAZBQAAAAUAAAAKAAAAAAAAAAAAAACAAc8AAABzdG9yZWQudHh0UEsFBgAAAAAEAAQA6gAAAPwAAAAAAA==";

function bytes(base64: string): ArrayBuffer {
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out.buffer;
}

describe("a zip upload", () => {
  it("reads every file, deflated or stored, and skips directories", async () => {
    const files = await readZip(bytes(ZIP));
    expect(Object.keys(files).sort()).toEqual(["api/openapi.yaml", "api/schemas/pet.yaml", "stored.txt"]);
    expect(files["api/openapi.yaml"]).toContain("openapi: 3.0.0");
    expect(files["api/schemas/pet.yaml"]).toBe("type: object\n");
    expect(files["stored.txt"]).toBe("plain");
  });

  it("says what is wrong with something that is not a zip", async () => {
    await expect(readZip(new TextEncoder().encode("openapi: 3.0.0").buffer as ArrayBuffer)).rejects.toBeInstanceOf(ZipError);
  });
});

describe("a multi-file schema", () => {
  const all = {
    "api/openapi.yaml": "openapi: 3.0.0",
    "api/schemas/pet.yaml": "type: object",
    "api/.DS_Store": "junk",
    "notes.txt": "outside",
  };

  it("finds the main document and keys the others relative to it", () => {
    expect(guessMain(all)).toBe("api/openapi.yaml");
    expect(guessMain({ "x/a.yaml": "type: object", "x/b.yaml": "swagger: '2.0'" })).toBe("x/b.yaml");
    expect(uploadOf(all, "api/openapi.yaml")).toEqual({
      main: "api/openapi.yaml",
      text: "openapi: 3.0.0",
      files: { "schemas/pet.yaml": "type: object" },
    });
  });
});
