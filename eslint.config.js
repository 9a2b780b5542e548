// ESLint (flat config): typescript-eslint's recommended rules, type-aware where it pays
// (floating and misused promises), and the workflow sandbox rules as a gate.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.lab/',
      '.stack/',
      '.temporal/',
      'coverage/',
      'test-artifacts/',
      'secrets/',
      'test/integration/replay/histories/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its error and its ordering: the bugs that cost a rollback.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    rules: {
      // Best-effort reads (a pid file, a symlink, a body that may not be JSON) end in `catch {}`.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Output, replies and names are scrubbed of control characters on purpose, by regex.
      'no-control-regex': 'off',
      // Errors are rewritten to say what failed, in our words; a raw cause would carry a reply, a
      // path or key material along into Temporal failures (history) and CLI output.
      'preserve-caught-error': 'off',
      // `const { secret: _, ...rest } = env` is how a key is dropped from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, and nothing of the
    // activities, adapters or ports but their types (their code does I/O and must run on the worker).
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'workflow code is deterministic: no Node built-ins (do it in an activity)',
          })),
          patterns: [
            { group: ['node:*'], message: 'workflow code is deterministic: no Node built-ins (do it in an activity)' },
            {
              group: ['**/activities', '**/activities/**', '**/adapters/**', '**/ports/**'],
              allowTypeImports: true,
              message: 'workflow code may import only types from activities, adapters and ports (use `import type`)',
            },
          ],
        },
      ],
    },
  },
);
