// ESLint flat config: typescript-eslint strict, type-checked, over src/, test/ and bench/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', '.build/**', 'node_modules/**', 'hooks/**', 'scripts/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'], package: 'node:test' },
          ],
        },
      ],
    },
  },
  // The layering (docs/architecture.md): src/cli sits on top and nothing imports it back; the store never imports
  // the boot flow or EdgeX's duties (they talk to it over HTTP); src/edgex never imports the boot flow.
  {
    files: ['src/vmk/**', 'src/keyfile/**', 'src/vault/**', 'src/bootstrap/**', 'src/protect/**', 'src/recovery/**', 'src/config/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/*', '**/cli/**'], message: 'only src/cli imports src/cli' }] }] },
  },
  {
    files: ['src/edgex/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli/*', '**/cli/**', '**/bootstrap/*'], message: 'src/edgex is called by the boot flow and the CLI; it imports neither' }] },
      ],
    },
  },
  {
    files: ['src/store/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli/*', '**/cli/**', '**/bootstrap/*', '**/edgex/*', '**/edgex/**'], message: 'the store imports nothing from the boot flow, EdgeX duties or the CLI' }] },
      ],
    },
  },
);
