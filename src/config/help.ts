/**
 * --help rendering: the options section comes from the option table's rows,
 * and every line is wrapped to fit a terminal (`HELP_WIDTH` columns).
 */
import { OPTIONS, defaultText, envName } from './option-table.js';

/** Widest --help line, in columns. */
export const HELP_WIDTH = 100;

/** Column where an option's description starts. */
const OPTION_TEXT_COLUMN = 30;

/**
 * Splits `text` into lines of at most `width` columns at spaces. A word longer
 * than `width` keeps a line of its own rather than being cut.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((part) => part !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/**
 * Two columns: each `term` at `indent`, its description from `column`, wrapped
 * to `width`; a term too wide for its column puts the description on the next line.
 */
export function twoColumns(entries: ReadonlyArray<readonly [term: string, description: string]>, column: number, indent = 2, width = HELP_WIDTH): string[] {
  const lines: string[] = [];
  for (const [term, description] of entries) {
    const head = `${' '.repeat(indent)}${term}`;
    const body = wrapText(description, width - column);
    const headAlone = body.length === 0 || head.length + 1 > column;
    if (headAlone) lines.push(head);
    body.forEach((text, index) => {
      lines.push(index === 0 && !headAlone ? `${head.padEnd(column)}${text}` : `${' '.repeat(column)}${text}`);
    });
  }
  return lines;
}

/**
 * A paragraph wrapped to `width`, its first line indented by `indent` columns
 * and the lines after it by `indent + hanging`.
 */
export function paragraph(text: string, indent = 0, hanging = 2, width = HELP_WIDTH): string[] {
  const [first, ...rest] = wrapText(text, width - indent);
  if (first === undefined) return [];
  const following = wrapText(rest.join(' '), width - indent - hanging).map((line) => `${' '.repeat(indent + hanging)}${line}`);
  return [`${' '.repeat(indent)}${first}`, ...following];
}

/** The options section of --help: flag, description, default and variable of every row. */
export function optionHelpLines(): string[] {
  return twoColumns(
    OPTIONS.map((spec) => [
      `--${spec.name}${spec.placeholder ? ` ${spec.placeholder}` : ''}`,
      `${spec.description} (default ${defaultText(spec)}; env ${envName(spec.name)})`,
    ]),
    OPTION_TEXT_COLUMN,
  );
}
