// JSON.parse keeps the last of two equal keys; a plan file must not (a second "release" could deploy
// something else without a word). YAML plans already refuse duplicates.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePlanText } from '../../../src/plan/load';
import { validatePlan } from '../../../src/plan/validate';

const here = fileURLToPath(new URL('../../support/plans/', import.meta.url));
const fullPlan = parsePlanText(fs.readFileSync(path.join(here, 'good', 'full.yaml'), 'utf8')) as Record<string, unknown>;

describe('JSON plans: a duplicate key is refused, naming the key and its lines', () => {
  it('refuses a duplicate nested in a host, with the object it is in', () => {
    const json = JSON.stringify({ ...fullPlan }, null, 2).replace('"name": "green-2",', '"name": "green-2",\n          "name": "green-9",');
    expect(() => parsePlanText(json, 'plan.json')).toThrow(
      /plan.json: expected valid JSON with each key once per object, found key "name" at line \d+ and again at line \d+, column 11, in plan.clusters.green.hosts\[1\] \(JSON would silently keep the last value\)/,
    );
  });

  it('accepts equal keys in different objects, and strings that only look like keys', () => {
    const json = JSON.stringify({ ...fullPlan, smoke: [{ path: '/a', expectBodyContains: '{"release": "x", "release": "y"}' }] });
    expect(validatePlan(parsePlanText(json)).ok).toBe(true);
  });
});
