// ProgressBar: epoch, iteration, percentage, speed and ETA; redrawn in place on a terminal.

import type { Extension } from '../extension.js';
import type { Trainer } from '../trainer.js';
import type { Unit } from '../triggers.js';
import type { TextOut } from './print-report.js';

export interface ProgressBarOptions {
  /** What 100% is (default: the stop trigger's length, e.g. [20, 'epoch']). */
  trainingLength?: readonly [number, Unit];
  /** Iterations between updates (default 10 on a terminal, 100 otherwise). */
  updateInterval?: number;
  /** Characters in the bar (default 30). */
  barLength?: number;
  out?: TextOut;
}

/**
 * A one-line progress bar (Chainer's ProgressBar, on one line):
 *
 * ```
 * epoch 2/3 [##########..........]  48.33% iter 870/1800  412.5 it/s  ETA 0:00:02
 * ```
 *
 * On a terminal the line is redrawn in place (carriage return, erase to end of line) every
 * `updateInterval` iterations; into a pipe or file it writes the same text as plain lines, so
 * a log stays readable. Speed and ETA come from the last few updates, not from the start.
 */
export class ProgressBar implements Extension {
  readonly name = 'ProgressBar';
  readonly trigger = [1, 'iteration'] as const;
  private readonly out: TextOut;
  private readonly tty: boolean;
  private readonly updateInterval: number;
  private readonly barLength: number;
  private length: readonly [number, Unit] | null;
  // (iteration, time) of recent draws: a bounded window, so a long run keeps no growing list
  private recent: [number, number][] = [];
  private lastDrawn = -1;

  constructor(opts: ProgressBarOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.tty = this.out.isTTY === true;
    this.updateInterval = opts.updateInterval ?? (this.tty ? 10 : 100);
    this.barLength = opts.barLength ?? 30;
    this.length = opts.trainingLength ?? null;
    if (!Number.isInteger(this.updateInterval) || this.updateInterval < 1) {
      throw new Error(`ProgressBar: updateInterval must be a positive integer, got ${opts.updateInterval}`);
    }
  }

  initialize(trainer: Trainer): void {
    this.recent = [[trainer.updater.iteration, performance.now()]];
    if (this.length !== null) return;
    const stop = trainer.stopTrigger as { getTrainingLength?: () => [number, Unit] };
    if (typeof stop.getTrainingLength !== 'function') {
      throw new Error('ProgressBar: the stop trigger does not say how long training is; give trainingLength: [n, \'epoch\' | \'iteration\']');
    }
    this.length = stop.getTrainingLength();
  }

  call(trainer: Trainer): void {
    if (trainer.updater.iteration % this.updateInterval === 0) this.draw(trainer);
  }

  finalize(trainer: Trainer): void {
    if (this.lastDrawn !== trainer.updater.iteration && trainer.updater.iteration > 0) this.draw(trainer);
    if (this.tty && this.lastDrawn >= 0) this.out.write('\n');
  }

  /** The bar's text for the trainer's current position (no control characters). */
  line(trainer: Trainer): string {
    const [total, unit] = this.length ?? [1, 'epoch'];
    const u = trainer.updater;
    const done = unit === 'epoch' ? u.epochDetail : u.iteration;
    const rate = Math.min(1, done / total);
    const filled = Math.round(rate * this.barLength);
    // total iterations, when the length is in epochs, from the iterations per epoch seen so far
    const totalIter = unit === 'iteration' ? total : u.epochDetail > 0 ? Math.round((u.iteration * total) / u.epochDetail) : null;
    const [i0, t0] = this.recent[0] ?? [u.iteration, performance.now()];
    const speed = u.iteration > i0 ? (u.iteration - i0) / ((performance.now() - t0) / 1000) : null;
    const eta = speed !== null && totalIter !== null ? Math.max(0, totalIter - u.iteration) / speed : null;
    return [
      // the epoch being worked on: at an epoch's last iteration, that epoch, not the next
      `epoch ${Math.max(1, Math.ceil(u.epochDetail))}${unit === 'epoch' ? `/${total}` : ''}`,
      `[${'#'.repeat(filled)}${'.'.repeat(this.barLength - filled)}]`,
      `${(100 * rate).toFixed(2).padStart(6)}%`,
      `iter ${u.iteration}/${totalIter ?? '?'}`,
      ` ${speed === null ? '-' : speed.toFixed(1)} it/s`,
      ` ETA ${eta === null ? '-' : clock(eta)}`,
    ].join(' ');
  }

  private draw(trainer: Trainer): void {
    const text = this.line(trainer);
    this.out.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
    this.lastDrawn = trainer.updater.iteration;
    this.recent.push([trainer.updater.iteration, performance.now()]);
    if (this.recent.length > 10) this.recent.shift();
  }
}

/** Seconds as h:mm:ss. */
function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
