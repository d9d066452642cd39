/**
 * Ids of our own for ids that are only unique per origin. Exchange, connection and upstream
 * connection ids are per process: two workers (src/workers/relay.ts) or two fleet nodes
 * (src/fleet/fleet-view.ts) reuse the same numbers, and the tracker would take two clients
 * for one connection. Keyed by `origin/id`; bounded (the oldest forgotten beyond `limit`:
 * a process that died never closes its own).
 */
export class Renumbering {
  private next = 0;
  private readonly ids = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** The id for `key`, a fresh one the first time. */
  id(key: string): number {
    let mapped = this.ids.get(key);
    if (mapped === undefined) {
      mapped = ++this.next;
      this.ids.set(key, mapped);
      if (this.ids.size > this.limit) this.ids.delete(this.ids.keys().next().value!);
    }
    return mapped;
  }

  /** The id `key` had, if any, forgotten now (its connection closed). */
  take(key: string): number | undefined {
    const mapped = this.ids.get(key);
    if (mapped !== undefined) this.ids.delete(key);
    return mapped;
  }

  keys(): IterableIterator<string> {
    return this.ids.keys();
  }
}
