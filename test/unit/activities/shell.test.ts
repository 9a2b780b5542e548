import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertSafeRelease, renderCommand, shellQuote } from '../../../src/activities/shell';
import { makeTempDir } from '../../support/sshd';

const dir = makeTempDir('bluegreen-shell-');
const canary = join(dir, 'canary');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each of these would run `touch canary` if it ever reached a shell unquoted.
const hostile = [
  `v2; touch ${canary}`,
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `v2\ntouch ${canary}`,
  `v2' ; touch ${canary}; echo '`,
  `v2" ; touch ${canary}; echo "`,
  `v2\\'; touch ${canary} #`,
  `v2 && touch ${canary}`,
  `v2 | touch ${canary}`,
  `--opt=$(touch ${canary})`,
  `*`,
  `~root`,
  `v2\r\ntouch ${canary}`,
  `ｖ２；touch ${canary}`, // fullwidth lookalikes
  'x'.repeat(10_000) + `'; touch ${canary}`,
  `v2; rm -rf /`,
  `$(id)`,
  '',
];

/** What /bin/sh makes of `printf %s <rendered>` (so we test the real shell, not our idea of it). */
function throughShell(rendered: string): string {
  return execFileSync('/bin/sh', ['-c', `printf %s ${rendered}`]).toString();
}

describe('shellQuote', () => {
  it.each(hostile.map((v) => [v.slice(0, 40), v]))('passes %j to /bin/sh as one literal word', (_label, value) => {
    expect(throughShell(shellQuote(value))).toBe(value);
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses a NUL byte, which no argv can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('renderCommand', () => {
  it('substitutes placeholders with quoted values that /bin/sh reads literally', () => {
    for (const value of hostile) {
      const cmd = renderCommand('printf %s {release}', { release: value });
      expect(execFileSync('/bin/sh', ['-c', cmd]).toString()).toBe(value);
    }
    expect(existsSync(canary)).toBe(false);
  });

  it('substitutes several placeholders and keeps the rest of the template as written', () => {
    expect(renderCommand('deploy --release={release} --dir {dir} && echo ok', { release: 'v2', dir: '/srv/app' })).toBe(
      "deploy --release='v2' --dir '/srv/app' && echo ok",
    );
  });

  it('rejects an unknown placeholder and lists the known ones', () => {
    expect(() => renderCommand('deploy {relase}', { release: 'v2' })).toThrow(
      /whose only placeholders are \{release\} \(\{relase\} is not one/,
    );
  });

  it('turns {{ and }} into literal braces', () => {
    expect(renderCommand("awk '{{print $1}}' {file}", { file: 'x' })).toBe("awk '{print $1}' 'x'");
  });

  it('keeps a brace that does not start a placeholder as written', () => {
    expect(renderCommand("awk '{print $1}' | { read a; echo $a; }", {})).toBe("awk '{print $1}' | { read a; echo $a; }");
  });

  it("substitutes a plain-word value as it is inside the template's quotes, and refuses any other value there", () => {
    expect(renderCommand('echo "{release}" \'{release}\'', { release: 'v2.4.1' })).toBe(`echo "v2.4.1" 'v2.4.1'`);
    expect(() => renderCommand('echo "{release}"', { release: '$(id)' })).toThrow(/inside double quotes/);
    expect(() => renderCommand("echo '{release}'", { release: "x'" })).toThrow(/inside single quotes/);
    expect(renderCommand('echo "a" {release} \'b\'', { release: 'x' })).toBe(`echo "a" 'x' 'b'`);
  });

  it('rejects ${name}, which looks like a shell variable', () => {
    expect(() => renderCommand('echo ${release}', { release: 'x' })).toThrow(/reads both as a placeholder and as a shell variable/);
  });

  it('rejects an unterminated quote in the template', () => {
    expect(() => renderCommand('echo "abc', {})).toThrow(/double quote is never closed/);
  });
});

describe('assertSafeRelease', () => {
  it.each(['v2', '1.2.3', 'release_2024-01-01', 'A', 'x'.repeat(64)])('accepts %s', (r) => {
    expect(() => assertSafeRelease(r)).not.toThrow();
  });

  it.each([
    ['v2; rm -rf /', /character ";" \(U\+003B\) at position 3/],
    ['$(id)', /character "\$" \(U\+0024\) at position 1/],
    ['`id`', /character "`" \(U\+0060\) at position 1/],
    ['v2\nid', /character "\\n" \(U\+000A\) at position 3/],
    ["v2'", /character "'" \(U\+0027\) at position 3/],
    ['--opt', /character "-" \(U\+002D\) cannot start a release/],
    ['.hidden', /character "\." \(U\+002E\) cannot start a release/],
    ['v２', /character "２" \(U\+FF12\) at position 2/],
    ['v2 ', /character " " \(U\+0020\) at position 3/],
    ['v2/../x', /character "\/" \(U\+002F\) at position 3/],
    ['x'.repeat(10_000), /10000 characters long, at most 64/],
    ['', /must not be empty/],
  ])('rejects %j naming the problem', (r, message) => {
    expect(() => assertSafeRelease(r)).toThrow(message);
  });

  it('keeps the message short and on one line for a huge hostile value', () => {
    let message = '';
    try {
      assertSafeRelease('a\n'.repeat(5000));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(400);
  });
});
