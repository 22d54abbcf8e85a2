/** One link of an RFC 8288 `Link` header. */
export interface LinkEntry {
  /** The target as written (often a relative path with a query for Mender). */
  href: string;
  /** The relation types, lower-cased (`rel="next last"` gives `['next', 'last']`). */
  rels: string[];
}

/**
 * Parses `Link` header values: several header lines (an array) or one comma-joined line, `rel`
 * quoted or not, several relation types per link. Commas inside `<...>` are kept. Malformed parts are
 * skipped, never thrown on.
 */
export function parseLinkHeader(value: string | readonly string[] | undefined): LinkEntry[] {
  if (value === undefined) return [];
  const lines = typeof value === 'string' ? [value] : value;
  const entries: LinkEntry[] = [];
  for (const line of lines) {
    let i = 0;
    while (i < line.length) {
      const open = line.indexOf('<', i);
      if (open === -1) break;
      const close = line.indexOf('>', open + 1);
      if (close === -1) break;
      const href = line.slice(open + 1, close).trim();
      // Parameters run to the next link: the next '<' that follows a comma.
      const nextLink = /,\s*</g;
      nextLink.lastIndex = close + 1;
      const found = nextLink.exec(line);
      const end = found === null ? line.length : found.index;
      const params = line.slice(close + 1, end);
      const rels: string[] = [];
      const relMatch = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
      const relText = relMatch?.[1] ?? relMatch?.[2];
      if (relText !== undefined) {
        for (const rel of relText.split(/\s+/)) if (rel !== '') rels.push(rel.toLowerCase());
      }
      entries.push({ href, rels });
      i = end + 1;
    }
  }
  return entries;
}

/** The target of the first link with relation `rel`, or `undefined`. */
export function findLink(value: string | readonly string[] | undefined, rel: string): string | undefined {
  const wanted = rel.toLowerCase();
  return parseLinkHeader(value).find((entry) => entry.rels.includes(wanted))?.href;
}
