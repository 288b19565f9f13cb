import type { FinishReason, TokenUsage } from '../../domain/ports.js';
import { MAX_ORDER, NgramCounts } from './ngram-counts.js';
import { NgramModel } from './ngram-model.js';
import { seededRandom, unseededRandom, type Random } from './random.js';
import { RepetitionPenalty } from './repetition-penalty.js';
import { chooseToken } from './sampler.js';
import { StopFilter } from './stop-filter.js';
import { END_OF_TEXT, encodeText, tokenSpelling } from './tokenizer.js';
import { Utf8Assembler } from './utf8-assembler.js';

/** The prompt outweighs the corpus so that a continuation follows the prompt's own words. */
export const PROMPT_WEIGHT = 8;

// Counting a huge prompt costs time on every request; its last 64 Ki tokens say enough about it.
const PROMPT_TRAINING_LIMIT = 65_536;

export interface GenerationParams {
  /**
   * A chat reply is one turn: it may end on its own (end of text after the reply), and the space
   * the model writes after "Assistant:" is not part of it. A plain completion continues a
   * document that has no learned ending, so it runs until max_tokens or a stop sequence.
   */
  kind: 'text' | 'chat';
  /** The rendered prompt. */
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed?: number;
}

export interface GenerationStep {
  /** Text to release now; may be empty (held back for a stop sequence or an unfinished character). */
  text: string;
  /** Present on the last step. */
  done?: { finishReason: FinishReason; usage: TokenUsage };
}

/** One generation: call `step` until it reports `done`. Each step produces at most one token. */
export class Generation {
  readonly promptTokens: number;
  private readonly model: NgramModel;
  private readonly history: number[];
  private readonly random: Random;
  private readonly penalty = new RepetitionPenalty();
  private readonly utf8 = new Utf8Assembler();
  private readonly stop: StopFilter;
  private completionTokens = 0;
  private trimming: boolean;
  private wroteVisibleText = false;
  private finished = false;

  constructor(
    corpus: NgramCounts,
    private readonly params: GenerationParams,
  ) {
    const promptTokens = encodeText(params.prompt);
    this.promptTokens = promptTokens.length;
    // Only the last few tokens ever serve as context, however long the prompt.
    this.history = [END_OF_TEXT, ...promptTokens.slice(1 - MAX_ORDER)];
    const promptCounts = new NgramCounts();
    promptCounts.add([END_OF_TEXT, ...promptTokens.slice(-PROMPT_TRAINING_LIMIT)], PROMPT_WEIGHT);
    this.model = new NgramModel([corpus, promptCounts]);
    this.random = params.seed === undefined ? unseededRandom() : seededRandom(params.seed);
    this.stop = new StopFilter(params.stop);
    this.trimming = params.kind === 'chat';
  }

  step(): GenerationStep {
    if (this.finished) throw new Error('Generation already finished');
    if (this.completionTokens >= this.params.maxTokens) return this.finish('', 'length');

    const token = this.nextToken();
    if (token === undefined || token === END_OF_TEXT) return this.finish('', 'stop');

    this.penalty.record(this.history, token);
    this.history.push(token);
    this.completionTokens++;
    const spelling = tokenSpelling(token);
    let text = spelling === undefined ? '' : this.utf8.push(spelling);
    if (text.trim() !== '') this.wroteVisibleText = true;
    if (this.trimming) {
      text = text.trimStart();
      if (text !== '') this.trimming = false;
    }
    const released = this.stop.push(text);
    if (this.stop.hasStopped) return this.finish(released, 'stop');
    if (this.completionTokens >= this.params.maxTokens) return this.finish(released, 'length');
    return { text: released };
  }

  private nextToken(): number | undefined {
    const distribution = this.model.distribution(this.history);
    this.penalty.apply(this.history, distribution);
    const allowed = this.allowedOnly(distribution);
    if (allowed.size === 0 && this.utf8.midCharacter) {
      // Nothing the model proposes can finish this character; drop it rather than emit garbage.
      this.utf8.discard();
      return chooseToken(this.allowedOnly(distribution), this.sampling());
    }
    return chooseToken(allowed, this.sampling());
  }

  /**
   * Candidates that keep the output valid UTF-8. End of text is allowed only in chat replies, only
   * between characters, and only once the reply says something: a question would otherwise often
   * get an empty reply, because every corpus dialogue ends right after a full stop.
   */
  private allowedOnly(distribution: Map<number, number>): Map<number, number> {
    const allowed = new Map<number, number>();
    for (const [token, probability] of distribution) {
      const spelling = tokenSpelling(token);
      const ok =
        spelling === undefined
          ? token === END_OF_TEXT && this.mayEnd()
          : this.utf8.accepts(spelling);
      if (ok) allowed.set(token, probability);
    }
    return allowed;
  }

  private mayEnd(): boolean {
    return this.params.kind === 'chat' && this.wroteVisibleText && !this.utf8.midCharacter;
  }

  private sampling(): { temperature: number; topP: number; random: Random } {
    return { temperature: this.params.temperature, topP: this.params.topP, random: this.random };
  }

  private finish(text: string, finishReason: FinishReason): GenerationStep {
    this.finished = true;
    // Unless a stop sequence matched, the tail held back for one is ordinary text after all.
    return {
      text: text + this.stop.flush(),
      done: {
        finishReason,
        usage: { promptTokens: this.promptTokens, completionTokens: this.completionTokens },
      },
    };
  }
}
