// Everything that reaches a remote shell goes through here. Unquoted values are single-quoted (the
// one POSIX quoting with no special characters inside); values inside the template's own quotes must
// be plain words; releases are additionally held to a strict pattern so they are also safe as file
// names and in logs.

// One definition with the plan schema, which checks the same releases before a run starts.
import { RELEASE_PATTERN } from '../plan/names';
import { TemplateError, parseCommandTemplate, renderSegments, shellQuote } from '../plan/command-template';

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

export { shellQuote };

/**
 * Substitutes `{name}` placeholders: shell-quoted where the template leaves them unquoted, as they
 * are inside quotes (only for values that no quoting could misread). The template is read by
 * parseCommandTemplate, the same function the plan schema calls, so whatever validated renders.
 */
export function renderCommand(template: string, vars: Record<string, string>): string {
  try {
    return renderSegments(parseCommandTemplate(template, Object.keys(vars)), vars);
  } catch (err) {
    if (err instanceof TemplateError) throw new Error(`command template ${describeValue(template)}: expected ${err.expected}`);
    throw err;
  }
}
