/**
 * The WebSocket to the gateway: connects, resumes with ?since after a drop (exponential
 * backoff), pauses on request, and declares the link dead when even heartbeats stop.
 */
import type { ServerMessage } from '../../src/dashboard/messages.js';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'paused';

export interface ConnectionHooks {
  onMessage(msg: ServerMessage): void;
  onState(state: LinkState, detail: { attempt: number; retryInMs?: number }): void;
  /** Where to resume: seq 0 asks for a fresh snapshot. */
  resumePoint(): { seq: number; instance: string };
}

const SILENCE_LIMIT_MS = 40_000; // the server sends a heartbeat every 15 s when idle
const MAX_BACKOFF_MS = 10_000;

export class Connection {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: number | undefined;
  private watchdog: number | undefined;
  private paused = false;
  private lastMessageAt = 0;

  constructor(private readonly hooks: ConnectionHooks) {}

  start(): void {
    this.open();
    this.watchdog = window.setInterval(() => {
      if (this.ws?.readyState === WebSocket.OPEN && Date.now() - this.lastMessageAt > SILENCE_LIMIT_MS) {
        this.ws.close();
      }
    }, 5000);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
    window.clearTimeout(this.retryTimer);
    this.ws?.close(1000, 'paused');
    this.hooks.onState('paused', { attempt: 0 });
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.attempt = 0;
    this.open();
  }

  private url(): string {
    const { seq, instance } = this.hooks.resumePoint();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = seq > 0 ? `?since=${seq}&instance=${encodeURIComponent(instance)}` : '';
    return `${proto}//${location.host}/events${query}`;
  }

  private open(): void {
    this.hooks.onState(this.attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastMessageAt = Date.now();
      this.hooks.onState('live', { attempt: 0 });
    };
    ws.onmessage = (ev) => {
      this.lastMessageAt = Date.now();
      if (typeof ev.data !== 'string') return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      this.hooks.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.paused) return;
      this.attempt++;
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.attempt - 1, 6));
      this.hooks.onState('reconnecting', { attempt: this.attempt, retryInMs: delay });
      this.retryTimer = window.setTimeout(() => this.open(), delay);
    };
  }
}
