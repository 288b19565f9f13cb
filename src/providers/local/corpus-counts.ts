import { CORPUS_DOCUMENTS } from './corpus.js';
import { NgramCounts } from './ngram-counts.js';
import { END_OF_TEXT, encodeText } from './tokenizer.js';

/** Counts the built-in corpus; each document is framed by end-of-text on both sides. */
export function countCorpus(documents: readonly string[] = CORPUS_DOCUMENTS): NgramCounts {
  const counts = new NgramCounts();
  for (const document of documents) {
    counts.add([END_OF_TEXT, ...encodeText(document), END_OF_TEXT]);
  }
  return counts;
}
