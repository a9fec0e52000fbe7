// Reading the text files of a .zip in the browser (an OpenAPI document split over `$ref` files, uploaded as one
// archive): the central directory names each entry; stored entries are copied, deflated ones go through the
// browser's own DecompressionStream. No library: the format's few fields we need are read here.

export class ZipError extends Error {}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function endOfCentralDirectory(view: DataView): number {
  // The record is 22 bytes plus a comment of up to 65535; search backwards for its signature.
  for (let at = view.byteLength - 22; at >= Math.max(0, view.byteLength - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === EOCD) return at;
  }
  throw new ZipError("this is not a .zip archive (no end of central directory): upload a .zip, or the folder itself");
}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
  const inflater = new DecompressionStream("deflate-raw") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  const reader = source.pipeThrough(inflater).getReader();
  const chunks: Uint8Array[] = [];
  for (let read = await reader.read(); !read.done; read = await reader.read()) chunks.push(read.value);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Every file of the archive (directories left out) as path -> UTF-8 text. */
export async function readZip(buffer: ArrayBuffer, maxFiles = 200): Promise<Record<string, string>> {
  const view = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const end = endOfCentralDirectory(view);
  const count = view.getUint16(end + 10, true);
  if (count > maxFiles) throw new ZipError(`the archive holds ${count} entries; at most ${maxFiles} are read`);
  let at = view.getUint32(end + 16, true);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) throw new ZipError("the archive is damaged");
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue; // a directory
    if (view.getUint32(localOffset, true) !== LOCAL) throw new ZipError(`the archive is damaged at ${name}`);
    const start = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    const data = bytes.subarray(start, start + compressedSize);
    let content: Uint8Array;
    if (method === 0) content = data;
    else if (method === 8) content = await inflate(data);
    else throw new ZipError(`${name} is compressed with method ${method}; zip it with the usual deflate`);
    try {
      out[name] = decoder.decode(content);
    } catch {
      throw new ZipError(`${name} is not UTF-8 text; a schema's files are text`);
    }
  }
  return out;
}
