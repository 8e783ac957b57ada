// PrintReport: the LogReport's entries as a table, one row per entry, as they arrive.

import type { Extension } from '../extension.js';
import type { Trainer } from '../trainer.js';
import type { LogReport } from './log-report.js';

/** Where text goes: a stream such as process.stdout (isTTY tells whether it is a terminal). */
export interface TextOut {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface PrintReportOptions {
  /** The name of the LogReport to read in the Trainer (default 'LogReport'). */
  logReport?: string;
  out?: TextOut;
}

/**
 * Chainer's PrintReport: a header of `entries`, then a row per new log entry; a value not in
 * an entry is left blank. On a terminal each row first erases the line it starts on, so it
 * replaces the progress bar, which is redrawn below it.
 *
 * ```ts
 * trainer.extend(new PrintReport(['epoch', 'main/loss', 'validation/main/accuracy', 'elapsed_time']));
 * ```
 */
export class PrintReport implements Extension {
  readonly name = 'PrintReport';
  readonly trigger = [1, 'iteration'] as const;
  private readonly out: TextOut;
  private readonly logReport: string;
  private readonly widths: number[];
  private printed = 0;

  constructor(readonly entries: readonly string[], opts: PrintReportOptions = {}) {
    if (entries.length === 0) throw new Error('PrintReport: expected at least one entry to print');
    this.out = opts.out ?? process.stdout;
    this.logReport = opts.logReport ?? 'LogReport';
    this.widths = entries.map((e) => Math.max(10, e.length));
  }

  call(trainer: Trainer): void {
    const log = trainer.getExtension<LogReport>(this.logReport).log;
    if (log.length === this.printed) return;
    let text = this.printed === 0 ? `${this.row(this.entries)}\n` : '';
    for (const entry of log.slice(this.printed)) {
      text += `${this.row(this.entries.map((key) => (entry[key] === undefined ? '' : formatG(entry[key]))))}\n`;
    }
    this.printed = log.length;
    this.out.write(this.out.isTTY ? `\r\x1b[K${text}` : text);
  }

  private row(cells: readonly string[]): string {
    return cells.map((c, i) => c.padEnd(this.widths[i])).join('  ').trimEnd();
  }
}

/** Python's '%g': six significant digits, trailing zeros dropped, exponent outside [1e-4, 1e6). */
export function formatG(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exp < -4 || exp >= 6) {
    const [mantissa, e] = x.toExponential(5).split('e');
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(Math.max(0, 5 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}
