import { cpus, totalmem } from 'node:os';
import { median, p99 } from './stats.js';
import type { Figure } from './types.js';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  postgres: string;
}

export function describeMachine(postgres: string): Machine {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
  };
}

const fmt = (value: number) =>
  Number.isNaN(value) ? '-' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(3);

/**
 * Whether a figure meets a goal written as a ratio to its reference (`'>= 0.97
 * of bare'`, `'<= 2 of raw'`), judged on the ratio of medians the table
 * prints. Undefined for any other goal (those are read by a person) and for
 * a figure without a reference.
 */
export function meetsGoal(figure: Figure): boolean | undefined {
  const match = /^\s*(>=|<=)\s*(\d+(?:\.\d+)?)\s+of\b/.exec(figure.goal ?? '');
  if (match === null || figure.reference === undefined) return undefined;
  const ratio = median(figure.samples) / median(figure.reference.samples);
  if (Number.isNaN(ratio)) return undefined;
  const bound = Number(match[2]);
  return match[1] === '>=' ? ratio >= bound : ratio <= bound;
}

/** The goal, and for a ratio goal whether it is met, with the ratio to three places: 0.966 prints as 0.97x. */
function goalCell(figure: Figure): string {
  const met = meetsGoal(figure);
  if (met === undefined) return figure.goal ?? '';
  const ratio = median(figure.samples) / median(figure.reference!.samples);
  return `${figure.goal}: ${met ? 'met' : '**NOT met**'} (${ratio.toFixed(3)})`;
}

export function markdownTable(suites: Array<{ suite: string; figures: Figure[] }>, machine: Machine): string {
  const lines = [
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.postgres}`,
    '',
    '| suite | figure | n | median | p99 | reference | ref median | ref p99 | ratio (median) | goal |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { suite, figures } of suites) {
    for (const f of figures) {
      const m = median(f.samples);
      const rm = f.reference ? median(f.reference.samples) : Number.NaN;
      const ratio = f.reference ? `${m / rm < 0.01 ? (m / rm).toPrecision(2) : (m / rm).toFixed(2)}x` : '-';
      lines.push(
        `| ${suite} | ${f.name} (${f.unit}) | ${f.samples.length} | ${fmt(m)} | ${fmt(p99(f.samples))} | ${f.reference?.name ?? '-'} | ${fmt(rm)} | ${f.reference ? fmt(p99(f.reference.samples)) : '-'} | ${ratio} | ${goalCell(f)} |`,
      );
    }
  }
  return lines.join('\n');
}
