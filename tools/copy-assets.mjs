// tsc emits JavaScript only; the files read at run time are copied beside it so that the same
// relative paths work from src/ (tests) and dist/src/ (npm start).
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist/openapi', { recursive: true });
cpSync('openapi/openapi.yaml', 'dist/openapi/openapi.yaml');
cpSync('src/storage/migrations', 'dist/src/storage/migrations', { recursive: true });
mkdirSync('dist/models', { recursive: true });
cpSync('models/tiny-wordnet.gguf', 'dist/models/tiny-wordnet.gguf');
cpSync('models/WORDNET-LICENSE.txt', 'dist/models/WORDNET-LICENSE.txt');
