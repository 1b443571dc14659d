import { ApiError } from './api.js';
import { h, replace, type Child } from './dom.js';
import type { Messages } from './messages.js';

/** An error in the reader's words: the console's own for a few codes, else the server's sentence and its details. */
export function errorText(t: Messages, error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof UserError ? error.message : t.errors.generic;
  if (error.code === 'network_error') return t.errors.network;
  const own = (t.errors as Record<string, string | undefined>)[error.code];
  const details = (error.details ?? [])
    .map((detail) => (detail && typeof detail === 'object' && 'message' in detail ? `${String((detail as { field?: string }).field ?? '')}: ${String((detail as { message: unknown }).message)}` : ''))
    .filter(Boolean);
  return [own ?? error.message, ...details].join(' ');
}

export function alertBox(): HTMLElement {
  return h('p', { class: 'error', role: 'alert' });
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  className?: string;
}

/** A data table with a caption (its accessible name) and column headers. */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...columns.map((column) => h('th', { scope: 'col', class: column.className }, column.label)))),
      h('tbody', {}, ...rows.map((row) => h('tr', {}, ...columns.map((column) => h('td', { class: column.className }, column.cell(row))))))));
}

/**
 * Graph-style paging through any number of pages: the links seen so far are kept, so
 * Previous goes back without the server keeping state, and Next follows nextLink.
 */
export class Pager<P extends { nextLink?: string }> {
  #links: (string | undefined)[] = [undefined];
  #index = 0;
  readonly element = h('div', { class: 'pager' });

  constructor(
    private readonly t: Messages,
    private readonly load: (link: string | undefined) => Promise<P>,
    private readonly show: (page: P) => void,
  ) {}

  /** From the first page again (after a change of filters). */
  async reset(): Promise<void> {
    this.#links = [undefined];
    this.#index = 0;
    await this.#go();
  }

  async #go(): Promise<void> {
    const page = await this.load(this.#links[this.#index]);
    this.#links[this.#index + 1] = page.nextLink;
    this.#links.length = this.#index + 2;
    this.show(page);
    const previous = h('button', { type: 'button', class: 'secondary', disabled: this.#index === 0, onclick: () => this.#move(-1) }, this.t.previousPage);
    const next = h('button', { type: 'button', class: 'secondary', disabled: !page.nextLink, onclick: () => this.#move(1) }, this.t.nextPage);
    replace(this.element, previous, h('span', { class: 'page-number' }, `${this.t.page} ${this.#index + 1}`), next);
  }

  async #move(step: number): Promise<void> {
    this.#index += step;
    try {
      await this.#go();
    } catch (error) {
      this.#index -= step;
      this.element.prepend(h('p', { class: 'error', role: 'alert' }, errorText(this.t, error)));
    }
  }
}

/** Lines of a textarea as a list: trimmed, blank lines dropped. */
export function lines(text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** Runs an action behind a button: disabled while it runs, the outcome announced or shown in the alert. */
export async function run(button: HTMLButtonElement, alert: HTMLElement, t: Messages, action: () => Promise<void>): Promise<void> {
  button.disabled = true;
  alert.textContent = '';
  try {
    await action();
  } catch (error) {
    alert.textContent = errorText(t, error);
    // Where the reader is looking: an alert below the fold (a long domain list at 1366×768) is brought into view.
    alert.scrollIntoView?.({ block: 'nearest' });
  } finally {
    button.disabled = false;
  }
}

/**
 * Row actions reachable without tabbing through every row (a roving tabindex, as the
 * ARIA toolbar and grid patterns have it): of all the action buttons in `container`,
 * one is in the tab order; Up and Down move to the same action of the row above or
 * below, Left and Right along the row, Home and End to the first and last row.
 */
export function rovingActions(container: HTMLElement): void {
  const rows = () => Array.from(container.querySelectorAll<HTMLElement>('.row-actions')).map((row) => Array.from(row.querySelectorAll<HTMLButtonElement>('button')));
  const all = rows().flat();
  all.forEach((button, index) => (button.tabIndex = index === 0 ? 0 : -1));
  container.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    const grid = rows();
    const r = grid.findIndex((row) => row.includes(target as HTMLButtonElement));
    if (r < 0) return;
    const c = grid[r]!.indexOf(target as HTMLButtonElement);
    const at = (row: number, column: number) => grid[row]?.[Math.min(column, grid[row]!.length - 1)];
    const next = {
      ArrowDown: at(r + 1, c),
      ArrowUp: at(r - 1, c),
      ArrowRight: at(r, c + 1),
      ArrowLeft: at(r, c - 1),
      Home: at(0, c),
      End: at(grid.length - 1, c),
    }[event.key];
    if (!next) return;
    event.preventDefault();
    for (const button of grid.flat()) button.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
}

/** A refusal the console itself words for the reader (not a server answer). */
export class UserError extends Error {}
