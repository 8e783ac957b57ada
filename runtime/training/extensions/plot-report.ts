// PlotReport: chosen observation keys against epoch (or iteration), as an SVG line chart.

import { join } from 'node:path';
import { writeFileAtomic } from '../../serializers/atomic-write.js';
import type { Serializer } from '../../serializers/serializer.js';
import type { Extension } from '../extension.js';
import { DictSummary, serializeJson } from '../reporter.js';
import type { Trainer } from '../trainer.js';
import { getTrigger, type Trigger, type TriggerLike } from '../triggers.js';
import { renderPlot } from './svg-plot.js';

export interface PlotReportOptions {
  /** The x axis: 'epoch' (default) or 'iteration'. */
  xKey?: 'epoch' | 'iteration';
  /** How often a point is added and the file rewritten (default every epoch). */
  trigger?: TriggerLike;
  /** File name in the Trainer's `out` folder (default 'plot.svg'); it must end in .svg. */
  filename?: string;
}

type PngRenderer = (svg: string) => Uint8Array;
let pngRenderer: Promise<PngRenderer | null> | null = null;

/**
 * The optional @resvg/resvg-js package, when installed, turns the SVG into a PNG; kusari
 * does not depend on it. The name is built at run time so that bundlers leave it alone.
 */
function loadPngRenderer(): Promise<PngRenderer | null> {
  pngRenderer ??= import(['@resvg', 'resvg-js'].join('/'))
    .then((m: { Resvg: new (svg: string) => { render(): { asPng(): Uint8Array } } }) => (svg: string) => new m.Resvg(svg).render().asPng())
    .catch(() => null);
  return pngRenderer;
}

/**
 * Chainer's PlotReport: at each trigger it adds the interval's mean of each of `yKeys` as a
 * point and rewrites `out/<filename>`, an SVG a browser opens; if @resvg/resvg-js is
 * installed it also writes the PNG beside it. A key with no value in an interval adds no point.
 *
 * ```ts
 * trainer.extend(new PlotReport(['main/loss', 'validation/main/loss'], { filename: 'loss.svg' }));
 * ```
 */
export class PlotReport implements Extension {
  readonly trigger = [1, 'iteration'] as const;
  private readonly interval: Trigger;
  private readonly xKey: 'epoch' | 'iteration';
  readonly filename: string;
  private summary = new DictSummary();
  private data: Record<string, [number, number][]> = {};

  constructor(readonly yKeys: readonly string[], opts: PlotReportOptions = {}) {
    if (yKeys.length === 0) throw new Error('PlotReport: expected at least one key to plot');
    this.filename = opts.filename ?? 'plot.svg';
    if (!this.filename.endsWith('.svg')) {
      throw new Error(`PlotReport: filename must end in .svg, got '${this.filename}' (a PNG is written beside it when @resvg/resvg-js is installed)`);
    }
    this.xKey = opts.xKey ?? 'epoch';
    this.interval = getTrigger(opts.trigger ?? [1, 'epoch']);
    for (const k of yKeys) this.data[k] = [];
  }

  /** The points so far, per key. */
  get points(): Readonly<Record<string, readonly (readonly [number, number])[]>> { return this.data; }

  async call(trainer: Trainer): Promise<void> {
    const obs: Record<string, number> = {};
    for (const k of this.yKeys) if (trainer.observation[k] !== undefined) obs[k] = trainer.observation[k];
    this.summary.add(obs);
    if (!this.interval.call(trainer)) return;
    const x = this.xKey === 'epoch' ? trainer.updater.epoch : trainer.updater.iteration;
    for (const [k, mean] of Object.entries(this.summary.computeMean())) this.data[k].push([x, mean]);
    this.summary = new DictSummary();
    const svg = renderPlot(this.yKeys.map((k) => ({ name: k, points: this.data[k] })), { xLabel: this.xKey });
    const path = join(trainer.out, this.filename);
    const bytes = new TextEncoder().encode(svg);
    await writeFileAtomic(path, (put) => put(bytes));
    const toPng = await loadPngRenderer();
    if (toPng !== null) {
      const png = toPng(svg);
      await writeFileAtomic(path.replace(/\.svg$/, '.png'), (put) => put(png));
    }
  }

  serialize(serializer: Serializer): void {
    this.interval.serialize?.(serializer.child('_trigger'));
    this.summary.serialize(serializer.child('_summary'));
    serializeJson(serializer, '_plot', this.data, (v) => {
      const ok = v !== null && typeof v === 'object' && this.yKeys.every((k) => Array.isArray((v as Record<string, unknown>)[k]));
      if (!ok) throw new Error(`PlotReport: the stored points do not cover the keys ${this.yKeys.join(', ')}`);
      this.data = v as Record<string, [number, number][]>;
    });
  }
}
