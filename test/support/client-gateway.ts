import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { startScriptedOpenAI, type ScriptedOpenAIUpstream } from './scripted-openai-upstream.js';

/** Public ids of the routing table the client-library e2e tests run against. */
export const CHAT_MODEL = 'gpt-4o-mini';
export const EMBEDDING_MODEL = 'text-embedding-3-small';
/** What the gateway must rewrite the public ids to on the way upstream. */
export const UPSTREAM_CHAT_MODEL = 'scripted-chat-1';
export const UPSTREAM_EMBEDDING_MODEL = 'scripted-embed-1';

const UPSTREAM_KEY = 'sk-scripted-upstream-key';

/** Starting has taken over 30 s while other test runs loaded the machine. */
const GATEWAY_START_TIMEOUT_MS = 90_000;
/** For the beforeAll that starts the gateway: its start, and the upstream's around it. */
export const GATEWAY_HOOK_TIMEOUT_MS = GATEWAY_START_TIMEOUT_MS + 10_000;

export interface ClientGateway {
  server: ServerProcess;
  upstream: ScriptedOpenAIUpstream;
  /** The gateway's OpenAI base URL (…/v1). */
  baseURL: string;
  apiKey: string;
  stop(): Promise<void>;
}

/**
 * The started server process with a routing table of one chat and one embedding model on a
 * scripted OpenAI-compatible upstream, besides the built-in local model.
 */
export async function startClientGateway(apiKey: string): Promise<ClientGateway> {
  const upstream = await startScriptedOpenAI({ apiKey: UPSTREAM_KEY });
  const dir = await mkdtemp(path.join(tmpdir(), 'inference-api-clients-'));
  const modelsFile = path.join(dir, 'models.yaml');
  await writeFile(
    modelsFile,
    [
      'providers:',
      '  scripted:',
      '    type: openai-compatible',
      `    base_url: ${upstream.url}`,
      '    api_key_env: SCRIPTED_UPSTREAM_KEY',
      'models:',
      `  - id: ${CHAT_MODEL}`,
      '    targets:',
      '      - provider: scripted',
      `        model: ${UPSTREAM_CHAT_MODEL}`,
      `  - id: ${EMBEDDING_MODEL}`,
      '    capabilities:',
      '      completions: false',
      '      embeddings: true',
      '    targets:',
      '      - provider: scripted',
      `        model: ${UPSTREAM_EMBEDDING_MODEL}`,
    ].join('\n'),
  );
  let server: ServerProcess;
  try {
    server = await startServerProcess(
      {
        ADMIN_API_KEY: apiKey,
        MODELS_FILE: modelsFile,
        SCRIPTED_UPSTREAM_KEY: UPSTREAM_KEY,
        // Two tests may send the same request; each must reach the upstream.
        RESPONSE_CACHE_TTL_SECONDS: '0',
      },
      GATEWAY_START_TIMEOUT_MS,
    );
  } catch (error) {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    upstream,
    baseURL: `${server.url}/v1`,
    apiKey,
    async stop() {
      await server.stop();
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
