import WebSocket from 'ws';
import type { ServerMessage } from '../../src/dashboard/messages.js';

/**
 * A dashboard client on /events (same-origin, as the browser page): resolves with the socket once
 * the first message (the snapshot) is in; `messages` keeps collecting.
 */
export function openEvents(port: number, query = '', headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: ServerMessage[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/events${query}`, {
      headers: { Origin: `http://127.0.0.1:${port}`, ...headers },
    });
    const messages: ServerMessage[] = [];
    ws.on('message', (d) => {
      messages.push(JSON.parse(d.toString()));
      if (messages.length === 1) resolve({ ws, messages });
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}
