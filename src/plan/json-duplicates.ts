// JSON.parse keeps the last of two equal keys without a word; YAML plans refuse duplicates, and a JSON
// plan must too (a second "release" could silently deploy something else). Runs on text that
// JSON.parse has already accepted, so it only needs to follow strings and nesting.

export interface DuplicateKey {
  key: string;
  /** Where the object holding it sits, e.g. plan.clusters.green.hosts[0]. */
  path: string;
  line: number;
  column: number;
  firstLine: number;
}

type Frame = { kind: 'object'; keys: Map<string, number>; path: string; key?: string } | { kind: 'array'; index: number; path: string };

export function findDuplicateJsonKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  let expectKey = false;
  const childPath = (): string => {
    const top = stack.at(-1);
    if (!top) return 'plan';
    return top.kind === 'array' ? `${top.path}[${top.index}]` : `${top.path}.${top.key ?? '?'}`;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') {
      line++;
      lineStart = i + 1;
    } else if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack.at(-1);
      if (expectKey && top?.kind === 'object') {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        const first = top.keys.get(key);
        if (first !== undefined) return { key, path: top.path, line, column: start - lineStart + 1, firstLine: first };
        top.keys.set(key, line);
        top.key = key;
        expectKey = false;
      }
    } else if (ch === '{') {
      stack.push({ kind: 'object', keys: new Map(), path: childPath() });
      expectKey = true;
    } else if (ch === '[') {
      stack.push({ kind: 'array', index: 0, path: childPath() });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      expectKey = false;
    } else if (ch === ',') {
      const top = stack.at(-1);
      if (top?.kind === 'array') top.index++;
      else expectKey = true;
    }
  }
  return undefined;
}
