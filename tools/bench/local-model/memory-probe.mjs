// The model's own share of memory, apart from the server: RSS of a bare Node.js process before and
// after llama.cpp, the bundled model and two contexts are loaded. Prints one JSON line.
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const rss = () => process.memoryUsage().rss / 2 ** 20;
const before = rss();
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: 'models/tiny-wordnet.gguf' });
for (let i = 0; i < 2; i += 1) await model.createContext({ contextSize: 128, threads: 1 });
console.log(JSON.stringify({ before, after: rss() }));
process.exit(0);
