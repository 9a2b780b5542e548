// Everything that reaches a remote shell goes through here. Values are always single-quoted
// (the one POSIX quoting with no special characters inside), and releases are additionally
// held to a strict pattern so they are also safe as file names and in logs.

// One definition with the plan schema, which checks the same releases before a run starts.
import { RELEASE_PATTERN } from '../plan/schema';

export { RELEASE_PATTERN };

/** Shows a possibly hostile value in a message: JSON-escaped (no raw newlines) and cut short. */
export function describeValue(value: string, max = 60): string {
  const chars = [...value];
  const shown = chars.length > max ? chars.slice(0, max).join('') + '…' : value;
  return JSON.stringify(shown) + (chars.length > max ? ` (${chars.length} characters)` : '');
}

function codePoint(ch: string): string {
  return 'U+' + (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

/** Throws unless `release` matches RELEASE_PATTERN; the message names the first bad character. */
export function assertSafeRelease(release: string): void {
  if (typeof release !== 'string') throw new Error(`release must be a string, got ${typeof release}`);
  if (RELEASE_PATTERN.test(release)) return;
  const rule = `a release must match ${RELEASE_PATTERN.source} (letters, digits, ".", "_", "-"; at most 64 characters; starting with a letter or digit)`;
  const head = `release ${describeValue(release)} is not allowed`;
  if (release === '') throw new Error(`release must not be empty; ${rule}`);
  const chars = [...release];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const allowed = i === 0 ? /^[A-Za-z0-9]$/ : /^[A-Za-z0-9._-]$/;
    if (!allowed.test(ch)) {
      const where = i === 0 && /^[._-]$/.test(ch) ? 'cannot start a release' : `at position ${i + 1}`;
      throw new Error(`${head}: character ${JSON.stringify(ch)} (${codePoint(ch)}) ${where}; ${rule}`);
    }
  }
  throw new Error(`${head}: it is ${chars.length} characters long, at most 64; ${rule}`);
}

/** POSIX single-quote quoting: the result is one shell word whose value is exactly `arg`. */
export function shellQuote(arg: string): string {
  // A NUL byte cannot be part of an argv string; better to refuse than to truncate silently.
  if (arg.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  return "'" + arg.replace(/'/g, "'\\''") + "'";
}

const PLACEHOLDER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Substitutes `{name}` placeholders with shell-quoted values. `{{` and `}}` are literal braces.
 * Refuses unknown placeholders, and placeholders inside quotes or after `$`, where the quoting
 * we add would be wrong (inside double quotes `$(...)` in a value would run).
 */
export function renderCommand(template: string, vars: Record<string, string>): string {
  let out = '';
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < template.length; i++) {
    const ch = template[i] as string;
    if (ch === '{' && template[i + 1] === '{') {
      out += '{';
      i++;
      continue;
    }
    if (ch === '}' && template[i + 1] === '}') {
      out += '}';
      i++;
      continue;
    }
    if (ch === '{') {
      const end = template.indexOf('}', i);
      const name = end === -1 ? '' : template.slice(i + 1, end);
      if (!PLACEHOLDER.test(name)) {
        throw new Error(
          `command template ${describeValue(template)}: "{" at column ${i + 1} does not start a placeholder like {release}; write {{ for a literal brace`,
        );
      }
      if (!Object.prototype.hasOwnProperty.call(vars, name)) {
        const known = Object.keys(vars).map((k) => `{${k}}`).join(', ') || 'none';
        throw new Error(`command template ${describeValue(template)}: unknown placeholder {${name}} (known: ${known})`);
      }
      if (quote) {
        throw new Error(
          `command template ${describeValue(template)}: placeholder {${name}} is inside ${quote === "'" ? 'single' : 'double'} quotes; remove the quotes, values are quoted for you`,
        );
      }
      if (out.endsWith('$') && !out.endsWith('\\$')) {
        throw new Error(`command template ${describeValue(template)}: "\${${name}}" is ambiguous; write {${name}} (quoted value) or $${'{{'}...}} (shell variable)`);
      }
      out += shellQuote(vars[name] as string);
      i = end;
      continue;
    }
    // Track quoting so placeholders inside quotes can be refused above.
    if (ch === '\\' && quote !== "'") {
      out += ch + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if ((ch === "'" || ch === '"') && (quote === undefined || quote === ch)) {
      quote = quote === undefined ? ch : undefined;
    }
    out += ch;
  }
  if (quote) throw new Error(`command template ${describeValue(template)}: unterminated ${quote} quote`);
  return out;
}
