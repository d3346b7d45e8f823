import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenizedBatch {
  /** row-major [batch, length] */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  length: number;
}

/** The manifest's tokenizer and padding rules (manifest.ts). */
export interface TokenizerRules {
  /** most tokens per text, special tokens included (CLIP 77, SigLIP 64) */
  contextLength: number;
  /** `longest`: pad each batch to its longest text; `max_length`: always to contextLength */
  padding: 'longest' | 'max_length';
  /** default: the tokenizer config's pad_token, else the end token */
  padId?: number | undefined;
  /** default: the tokenizer config's eos_token (CLIP `<|endoftext|>`) */
  eosId?: number | undefined;
  /** lower-case before tokenising (SigLIP 2, open_clip) */
  lowercase?: boolean;
}

/**
 * Text tokenisation over @huggingface/tokenizers (pure JS, reads tokenizer.json, no network;
 * BPE as CLIP and Gemma/SigLIP 2 use, SentencePiece Unigram as SigLIP uses, WordPiece):
 * the tokenizer's own special tokens (CLIP `<|startoftext|> tokens <|endoftext|>`, SigLIP
 * `tokens </s>`), cut to the context length with the end token kept, padded with the pad token
 * either per batch to its longest row (CLIP) or always to the context length (SigLIP,
 * MobileCLIP); the attention mask marks the real tokens.
 */
export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** most tokens per text, special tokens included */
    readonly contextLength: number,
    readonly eosId: number,
    readonly padId: number,
    readonly padding: TokenizerRules['padding'],
    readonly lowercase: boolean,
  ) {}

  static async load(
    tokenizerPath: string,
    tokenizerConfigPath: string | null,
    rules: TokenizerRules | number,
  ): Promise<TextTokenizer> {
    const {
      contextLength,
      padding,
      padId: padOverride,
      eosId: eosOverride,
      lowercase = false,
    } = typeof rules === 'number' ? { contextLength: rules, padding: 'longest' as const } : rules;
    const tokenizerJson = await readJson(tokenizerPath);
    const config = tokenizerConfigPath ? await readJson(tokenizerConfigPath) : {};
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (error) {
      throw new Error(
        `${tokenizerPath} is not a tokenizer the tokenizer library can read: ${message(error)}`,
      );
    }
    const eosToken = stringField(config, 'eos_token') ?? '<|endoftext|>';
    const eosId = eosOverride ?? tokenizer.token_to_id(eosToken);
    if (eosId === undefined) throw new Error(`${tokenizerPath} has no end token ${eosToken}`);
    const padToken = stringField(config, 'pad_token');
    const padId =
      padOverride ?? (padToken === undefined ? undefined : tokenizer.token_to_id(padToken)) ?? eosId;
    const configured = (config as { model_max_length?: unknown }).model_max_length;
    // tokenizer configs without a limit say 1e30; the manifest's context length wins then.
    // With fixed-length padding the manifest's length is the model's input shape: it wins too.
    const length =
      padding === 'longest' && typeof configured === 'number' && configured > 2 && configured < 100_000
        ? Math.min(configured, contextLength)
        : contextLength;
    return new TextTokenizer(tokenizer, length, eosId, padId, padding, lowercase);
  }

  /** Token ids of one text, special tokens included, at most contextLength of them. */
  encode(text: string): number[] {
    const { ids } = this.tokenizer.encode(this.lowercase ? text.toLowerCase() : text);
    if (ids.length <= this.contextLength) return ids;
    // keep the end token last when the tokenizer adds one (CLIP, SigLIP); else a plain cut
    if (ids.at(-1) === this.eosId) return [...ids.slice(0, this.contextLength - 1), this.eosId];
    return ids.slice(0, this.contextLength);
  }

  tokens(text: string): string[] {
    return this.tokenizer.tokenize(this.lowercase ? text.toLowerCase() : text, { add_special_tokens: true });
  }

  /** Pads a batch of encoded texts to a rectangle: its longest row, or the context length. */
  pad(rows: number[][]): TokenizedBatch {
    const batch = rows.length;
    const length =
      this.padding === 'max_length' ? this.contextLength : Math.max(1, ...rows.map((r) => r.length));
    const inputIds = new BigInt64Array(batch * length).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(batch * length);
    rows.forEach((row, b) => {
      row.forEach((id, i) => {
        inputIds[b * length + i] = BigInt(id);
        attentionMask[b * length + i] = 1n;
      });
    });
    return { inputIds, attentionMask, batch, length };
  }
}

async function readJson(file: string): Promise<object> {
  const text = await readFile(file, 'utf8');
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
    return value;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${message(error)}`);
  }
}

function stringField(object: object, key: string): string | undefined {
  const value = (object as Record<string, unknown>)[key];
  if (typeof value === 'string') return value;
  // tokenizer_config.json may hold an AddedToken object: { content: "<|endoftext|>", ... }
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
