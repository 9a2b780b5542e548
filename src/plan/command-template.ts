// Command templates: the one reading of a template, used both by the plan schema (at validate time)
// and by the renderer (at run time). Because both call parseCommandTemplate, a plan that validates
// renders, and a template the renderer would refuse is refused before anything is drained.
// Deterministic and Node-free: the schema runs inside the workflow sandbox.

const PLACEHOLDER_AT = /^\{([A-Za-z_][A-Za-z0-9_]*)\}/;

/**
 * A value substituted inside quotes goes in as it is. That is safe only for these characters: none
 * is special inside single or double quotes, nor unquoted to a nested shell (`sh -c '... {release}'`):
 * no quote, `$`, backquote, backslash, whitespace, glob or `!`, and no leading `-` or `~`.
 * Every release matches (RELEASE_PATTERN is stricter); the renderer still checks each value.
 */
export const QUOTE_SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export type TemplateSegment = { kind: 'text'; text: string } | { kind: 'placeholder'; name: string; quote?: "'" | '"' };

/** A template the renderer cannot run; `expected` reads as the plan's "expected X". */
export class TemplateError extends Error {
  constructor(readonly expected: string) {
    super(expected);
    this.name = 'TemplateError';
  }
}

/**
 * Reads a template: `{name}` is a placeholder (one of `placeholders`), `{{` and `}}` are one literal
 * brace each, and any other brace is kept as written (`awk '{print $1}'`, `{ a; b; }`, `f{,.bak}`).
 * Placeholders may stand unquoted, in double or in single quotes. Throws TemplateError.
 */
export function parseCommandTemplate(template: string, placeholders: readonly string[]): TemplateSegment[] {
  const segments: TemplateSegment[] = [];
  let text = '';
  let quote: "'" | '"' | undefined;
  let plainBraceAt: number | undefined;
  let escapeAt: number | undefined;
  const known = () => placeholders.map((p) => `{${p}}`).join(', ') || 'none';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i] as string;
    const pair = template.slice(i, i + 2);
    if (pair === '{{' || pair === '}}') {
      escapeAt ??= i;
      text += ch; // one brace for two
      i++;
      continue;
    }
    const placeholder = ch === '{' ? PLACEHOLDER_AT.exec(template.slice(i))?.[1] : undefined;
    if (placeholder !== undefined) {
      if (!placeholders.includes(placeholder)) {
        throw new TemplateError(
          `a command whose only placeholders are ${known()} ({${placeholder}} is not one; to keep the braces as written, type {{${placeholder}}})`,
        );
      }
      if (template[i - 1] === '$' && template[i - 2] !== '\\') {
        throw new TemplateError(
          `a command without \${${placeholder}}, which reads both as a placeholder and as a shell variable (write {${placeholder}} for the value, or \${{${placeholder}}} for the shell variable)`,
        );
      }
      if (text) segments.push({ kind: 'text', text });
      text = '';
      segments.push({ kind: 'placeholder', name: placeholder, ...(quote ? { quote } : {}) });
      i += placeholder.length + 1;
      continue;
    }
    if (ch === '{') plainBraceAt ??= i;
    if (ch === '\\' && quote !== "'") {
      // The escaped character is the shell's business; it never starts a placeholder or a quote.
      text += ch + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if ((ch === "'" || ch === '"') && (quote === undefined || quote === ch)) quote = quote === undefined ? ch : undefined;
    text += ch;
  }
  if (quote) throw new TemplateError(`a command with balanced quotes (its ${quote === "'" ? 'single' : 'double'} quote is never closed)`);
  if (plainBraceAt !== undefined && escapeAt !== undefined) {
    // "awk '{if (x) {n++}}'": is "}}" one escaped brace or two plain ones? Refuse rather than guess.
    throw new TemplateError(
      `a command whose literal braces read one way: it has a plain "{" at column ${plainBraceAt + 1} and "${template.slice(escapeAt, escapeAt + 2)}" at column ${escapeAt + 1}, which could be one brace or two (double every literal brace, or put a space between two braces)`,
    );
  }
  if (text) segments.push({ kind: 'text', text });
  return segments;
}

/** POSIX single-quote quoting: the result is one shell word whose value is exactly `arg`. */
export function shellQuote(arg: string): string {
  // A NUL byte cannot be part of an argv string; better to refuse than to truncate silently.
  if (arg.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  return "'" + arg.replace(/'/g, "'\\''") + "'";
}

/** Renders a parsed template: unquoted values are shell-quoted, quoted ones must be QUOTE_SAFE_VALUE. */
export function renderSegments(segments: TemplateSegment[], vars: Record<string, string>): string {
  return segments
    .map((s) => {
      if (s.kind === 'text') return s.text;
      const value = vars[s.name];
      if (value === undefined) throw new TemplateError(`a value for {${s.name}}`);
      if (!s.quote) return shellQuote(value);
      if (!QUOTE_SAFE_VALUE.test(value)) {
        throw new TemplateError(
          `a value of letters, digits, ".", "_", "-" for {${s.name}}, which stands inside ${s.quote === "'" ? 'single' : 'double'} quotes (remove the quotes: an unquoted placeholder is quoted for you)`,
        );
      }
      return value;
    })
    .join('');
}
