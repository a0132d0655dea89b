// A manifest stream as kubectl reads it, kept close enough to write back: multi-document YAML
// (split at `---` lines, as kubectl splits) or one JSON object. Documents that a command leaves
// alone are written back as the text they came in, comments and layout included; only changed
// documents are re-serialized. Pure.
import { dump, load } from "js-yaml";
import { KUBECTL_YAML_SCHEMA } from "../apis/crd-schema.ts";

export interface ManifestDocument {
  /** The document's text as read, without its `---` line. */
  text: string;
  /** The `---` line that opened it ("" for the first document when the stream has none). */
  separator: string;
  /** Parsed as kubectl would send it (JSON values only); null for an empty document. */
  value: unknown;
}

export interface ManifestStream {
  format: "yaml" | "json";
  documents: ManifestDocument[];
}

export type ParsedStream = { ok: true; stream: ManifestStream } | { ok: false; message: string };

// kubectl: a line starting with `---`, followed by nothing but spaces or a comment.
const SEPARATOR = /^---[ \t]*(#.*)?$/;

/** Parses a manifest stream; the error names the document (1-based) that does not parse. */
export function parseManifestStream(text: string): ParsedStream {
  if (/^\s*[{[]/.test(text)) {
    try {
      return {
        ok: true,
        stream: { format: "json", documents: [{ text, separator: "", value: JSON.parse(text) }] },
      };
    } catch (err) {
      return { ok: false, message: `not valid JSON: ${(err as Error).message}` };
    }
  }
  const documents: ManifestDocument[] = [];
  let separator = "";
  let lines: string[] = [];
  const flush = (): string | undefined => {
    const docText = lines.join("\n");
    try {
      const loaded = load(docText, { schema: KUBECTL_YAML_SCHEMA });
      // Round-tripped through JSON: what kubectl would send, no YAML-only values left.
      const value = loaded === undefined || loaded === null ? null : JSON.parse(JSON.stringify(loaded));
      documents.push({ text: docText, separator, value });
      return undefined;
    } catch (err) {
      return `document ${documents.length + 1} is not valid YAML: ${(err as Error).message.split("\n")[0]}`;
    }
  };
  for (const line of text.split("\n")) {
    if (SEPARATOR.test(line)) {
      const problem = flush();
      if (problem !== undefined) return { ok: false, message: problem };
      separator = line;
      lines = [];
    } else lines.push(line);
  }
  const problem = flush();
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, stream: { format: "yaml", documents } };
}

/**
 * The stream written back. `replaced` holds the new value of each changed document (by index);
 * every other document is its original text.
 */
export function formatManifestStream(stream: ManifestStream, replaced: ReadonlyMap<number, unknown>): string {
  if (stream.format === "json") {
    const doc = stream.documents[0];
    if (!doc) return "";
    return replaced.has(0) ? `${JSON.stringify(replaced.get(0), null, 2)}\n` : doc.text;
  }
  const parts = stream.documents.map((doc, i) => {
    let body = doc.text;
    if (replaced.has(i)) {
      // The document's leading comments stay; the rest is written anew.
      const lines = doc.text.split("\n");
      const lead: string[] = [];
      for (const line of lines) {
        if (line.trim() !== "" && !line.trimStart().startsWith("#")) break;
        if (line.trim() !== "") lead.push(line);
      }
      body = [...lead, yamlText(replaced.get(i))].join("\n").replace(/\n$/, "");
    }
    return doc.separator === "" ? body : `${doc.separator}\n${body}`;
  });
  const out = parts.join("\n");
  return out.endsWith("\n") ? out : `${out}\n`;
}

/** YAML that kubectl reads back as the same JSON: YAML 1.1 lookalikes ("on", "0755") are quoted. */
export function yamlText(value: unknown): string {
  return dump(value, { schema: KUBECTL_YAML_SCHEMA, lineWidth: -1, noRefs: true });
}
