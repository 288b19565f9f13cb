export { startFakeAnthropic } from './anthropic.js';
export type { FakeServerOptions, FakeUpstream, RecordedRequest } from './fake-server.js';
export { DEFAULT_REPLY, FAKE_SECRET, type FakeMode, fakeModes } from './modes.js';
export { startFakeOpenAI } from './openai.js';
