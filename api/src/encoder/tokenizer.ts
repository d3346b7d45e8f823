import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenizedBatch {
  /** row-major [batch, length] */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batch: number;
  length: number;
}

/**
 * CLIP tokenisation over @huggingface/tokenizers (pure JS, reads tokenizer.json, no network):
 * `<|startoftext|> tokens <|endoftext|>`, cut to the context length with the end token kept,
 * padded per batch to its longest row with the pad token (CLIP: the end token) and a zero mask.
 */
export class ClipTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** most tokens per text, start and end tokens included (CLIP: 77) */
    readonly contextLength: number,
    readonly eosId: number,
    readonly padId: number,
  ) {}

  static async load(
    tokenizerPath: string,
    tokenizerConfigPath: string | null,
    contextLength: number,
  ): Promise<ClipTokenizer> {
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
    const eosId = tokenizer.token_to_id(eosToken);
    if (eosId === undefined) throw new Error(`${tokenizerPath} has no end token ${eosToken}`);
    const padToken = stringField(config, 'pad_token');
    const padId = (padToken === undefined ? undefined : tokenizer.token_to_id(padToken)) ?? eosId;
    const configured = (config as { model_max_length?: unknown }).model_max_length;
    // tokenizer configs without a limit say 1e30; the registry's context length wins then
    const length =
      typeof configured === 'number' && configured > 2 && configured < 100_000
        ? Math.min(configured, contextLength)
        : contextLength;
    return new ClipTokenizer(tokenizer, length, eosId, padId);
  }

  /** Token ids of one text, start and end tokens included, at most contextLength of them. */
  encode(text: string): number[] {
    const { ids } = this.tokenizer.encode(text);
    if (ids.length <= this.contextLength) return ids;
    return [...ids.slice(0, this.contextLength - 1), this.eosId];
  }

  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: true });
  }

  /** Pads a batch of encoded texts to a rectangle. */
  pad(rows: number[][]): TokenizedBatch {
    const batch = rows.length;
    const length = Math.max(1, ...rows.map((r) => r.length));
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
