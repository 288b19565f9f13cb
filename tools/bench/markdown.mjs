// Writing into docs/benchmarks.md, shared by every benchmark script.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const INTRO = `# Benchmarks

Measured numbers for the server, each section written by a script in \`tools/bench/\`. Rerun the
script rather than editing a section by hand; the text between a section's marker comments is
replaced on every run.
`;

/** A markdown table padded the way Prettier pads it, so `prettier --check` stays clean. */
export function table(header, rows, align) {
  const widths = header.map((_, c) => Math.max(3, ...[header, ...rows].map((r) => r[c].length)));
  const line = (cells) =>
    `| ${cells.map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  const rule = widths.map((w, c) => (align[c] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), line(rule), ...rows.map(line)].join('\n');
}

/**
 * Replaces only the section between `<!-- bench:NAME:start -->` and its end marker (appending it
 * the first time), so each benchmark rewrites its own numbers and leaves the others alone.
 */
export function writeSection(file, name, section) {
  const startMarker = `<!-- bench:${name}:start -->`;
  const endMarker = `<!-- bench:${name}:end -->`;
  const block = `${startMarker}\n\n${section}\n\n${endMarker}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : INTRO;
  const start = current.indexOf(startMarker);
  const end = current.indexOf(endMarker);
  const next =
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + endMarker.length)}`
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
