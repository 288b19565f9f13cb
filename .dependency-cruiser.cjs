/**
 * One direction of dependency: http -> domain <- providers/storage; only app.ts wires
 * implementations; only src/config reads the environment (enforced by ESLint).
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'The domain imports no framework, driver, HTTP client or other layer.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: {
        pathNot: ['^src/domain/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'domain-no-network-core-modules',
      comment: 'The domain does not talk to the network itself; ports do.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: {
        dependencyTypes: ['core'],
        path: '^(http|https|net|tls|dgram|dns|http2|child_process)$',
      },
    },
    {
      name: 'http-uses-domain-only',
      comment: 'Routes call domain services; they never reach storage or providers directly.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(storage|providers|security|observability|runtime|config|app|main)' },
    },
    {
      name: 'providers-are-leaves',
      comment: 'Providers implement domain ports and never import http, storage or config.',
      severity: 'error',
      from: { path: '^src/providers/' },
      to: { path: '^src/(http|storage|security|config|app|main)' },
    },
    {
      name: 'providers-are-independent',
      comment: 'One provider never imports another; shared code lives in src/providers/shared.',
      severity: 'error',
      from: { path: '^src/providers/([^/]+)/' },
      to: {
        path: '^src/providers/([^/]+)/',
        pathNot: ['^src/providers/$1/', '^src/providers/shared/'],
      },
    },
    {
      name: 'storage-is-a-leaf',
      comment: 'Storage implements domain ports and never imports http, providers or config.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/(http|providers|security|config|app|main)' },
    },
    {
      name: 'security-is-a-leaf',
      comment: 'Security adapters (JWT, hashing, Redis) implement domain ports and nothing else.',
      severity: 'error',
      from: { path: '^src/security/' },
      to: { path: '^src/(http|storage|providers|config|app|main)' },
    },
    {
      name: 'runtime-is-a-leaf',
      comment:
        'Process-level adapters (event-loop and memory monitors) implement domain ports only.',
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: '^src/(http|storage|providers|security|config|app|main)' },
    },
    {
      name: 'observability-is-a-leaf',
      comment: 'Metrics adapters implement domain ports and never import other layers.',
      severity: 'error',
      from: { path: '^src/observability/' },
      to: { path: '^src/(http|storage|providers|security|runtime|config|app|main)' },
    },
    {
      name: 'only-app-wires',
      comment: 'Only app.ts and main.ts choose implementations.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(app|main)\\.ts$' },
      to: { path: '^src/(app|main)\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'Production code must not need devDependencies.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
