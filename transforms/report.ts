// The fusion report as text: every fused chain and every candidate left alone, with the reason.

import type { FileReport } from './index.js';

/**
 * One line per fused chain (file:line, ops, inputs, outputs, kernel, dispatches saved per call)
 * and per candidate left alone (file:line, reason code, the sentence), then a total.
 */
export function formatReport(reports: readonly FileReport[]): string {
  const lines: string[] = [];
  let chains = 0, left = 0, savedF = 0, savedB = 0;
  for (const r of reports) {
    const items = [
      ...r.chains.map((c) => ({
        line: c.line,
        text: `${r.file}:${c.line}: fused ${c.ops.join(' -> ')} into ${c.kernel}; inputs ${c.inputs.join(', ')}; outputs ${c.outputs.join(', ')}; saves ${c.dispatchesSavedForward} forward and ${c.dispatchesSavedBackward} backward dispatch(es) per call`,
      })),
      ...r.leftAlone.map((l) => ({ line: l.line, text: `${r.file}:${l.line}: left alone [${l.reason}]${l.tagged ? ' (in a @fuse function)' : ''}: ${l.message}` })),
    ].sort((a, b) => a.line - b.line);
    lines.push(...items.map((i) => i.text));
    chains += r.chains.length;
    left += r.leftAlone.length;
    savedF += r.chains.reduce((n, c) => n + c.dispatchesSavedForward, 0);
    savedB += r.chains.reduce((n, c) => n + c.dispatchesSavedBackward, 0);
  }
  lines.push(`${chains} chain(s) fused in ${reports.length} file(s), saving ${savedF} forward and ${savedB} backward dispatch(es) per call of each; ${left} candidate(s) left alone`);
  return lines.join('\n') + '\n';
}
