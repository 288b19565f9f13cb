import { CORPUS_DIALOGUES, CORPUS_PROSE } from './corpus.js';
import { NgramCounts } from './ngram-counts.js';
import { END_OF_TEXT, encodeText } from './tokenizer.js';

/** Counts the built-in corpus. Every passage starts after end-of-text; only dialogues end with it. */
export function countCorpus(): NgramCounts {
  const counts = new NgramCounts();
  for (const passage of CORPUS_PROSE) counts.add([END_OF_TEXT, ...encodeText(passage)]);
  for (const dialogue of CORPUS_DIALOGUES) {
    counts.add([END_OF_TEXT, ...encodeText(dialogue), END_OF_TEXT]);
  }
  return counts;
}
