/** Packet types as BITS documents them; `ack` is the only response type. */
export type PacketType = 'ping' | 'create-session' | 'fragment' | 'close-session' | 'cancel-session' | 'ack';

const TYPES: ReadonlyMap<string, PacketType> = new Map<string, PacketType>([
  ['ping', 'ping'],
  ['create-session', 'create-session'],
  ['fragment', 'fragment'],
  ['close-session', 'close-session'],
  ['cancel-session', 'cancel-session'],
  ['ack', 'ack'],
]);

/** Case-insensitive: `Create-Session`, `CREATE-SESSION` ([MC-BUP]) and `create-session` are all seen. */
export function parsePacketType(raw: string): PacketType | undefined {
  // The documented spellings first: plain compares, no lower-cased copy per packet.
  switch (raw) {
    case 'Fragment': return 'fragment';
    case 'Ack': return 'ack';
    case 'Create-Session': return 'create-session';
    case 'Close-Session': return 'close-session';
    case 'Ping': return 'ping';
    case 'Cancel-Session': return 'cancel-session';
  }
  return TYPES.get(raw.trim().toLowerCase());
}

/** How the documentation spells each type, for messages. */
export const PACKET_TYPE_NAMES: Readonly<Record<PacketType, string>> = {
  ping: 'Ping',
  'create-session': 'Create-Session',
  fragment: 'Fragment',
  'close-session': 'Close-Session',
  'cancel-session': 'Cancel-Session',
  ack: 'Ack',
};
