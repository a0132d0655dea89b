// What fills a V8 heap snapshot (`node --heapsnapshot-signal`): self size and count per
// constructor, strings and arrays by kind. Enough to tell a cache of full API objects from a leak.

export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  totalMiB: number;
  nodes: number;
  top: Array<{ name: string; type: string; count: number; MiB: number; percent: number }>;
}

export function summarizeHeapSnapshot(snap: HeapSnapshot, top = 20): HeapSummary {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { name: string; type: string; count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? "?";
    const size = snap.nodes[i + sizeAt]!;
    totalBytes += size;
    // Strings and code by kind; objects by constructor name.
    const name =
      type === "object" || type === "closure" || type === "native"
        ? (snap.strings[snap.nodes[i + nameAt]!] ?? "?")
        : `(${type})`;
    const key = `${type}\u0000${name}`;
    const g = groups.get(key) ?? { name, type, count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  const MiB = (b: number) => b / 2 ** 20;
  return {
    totalMiB: MiB(totalBytes),
    nodes: snap.nodes.length / width,
    top: [...groups.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map((g) => ({
        name: g.name,
        type: g.type,
        count: g.count,
        MiB: MiB(g.bytes),
        percent: (g.bytes / totalBytes) * 100,
      })),
  };
}
