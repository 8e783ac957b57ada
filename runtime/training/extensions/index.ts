// The Trainer's extensions (Chainer's training.extensions).

export { Evaluator, type EvaluatorOptions } from './evaluator.js';
export { LogReport, type LogReportOptions } from './log-report.js';
export { PrintReport, formatG, type PrintReportOptions, type TextOut } from './print-report.js';
export { ProgressBar, type ProgressBarOptions } from './progress-bar.js';
export { PlotReport, type PlotReportOptions } from './plot-report.js';
export { renderPlot, type Series, type PlotOptions } from './svg-plot.js';
export { snapshot, type SnapshotOptions } from './snapshot.js';
export { ExponentialShift, LinearShift } from './schedules.js';
