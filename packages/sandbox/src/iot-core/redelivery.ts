import { hash, randomUUID } from 'node:crypto';

/** How many QoS 1 publishes per connection are remembered for spotting a redelivery. */
export const REMEMBERED_PUBLISHES = 64;

/** A QoS 1 publish a connection sent: its payload digest and the message id it was given. */
interface Remembered {
  digest: string;
  id: string;
}

/** The QoS 1 publishes of one connection, by packet id (the last {@link REMEMBERED_PUBLISHES}). */
export type SentPublishes = Map<number, Remembered>;

/**
 * Gives each accepted MQTT publish a message id, and a QoS 1 redelivery the id of the message it
 * repeats, so a sink keyed on the id stores the message once.
 *
 * A publisher whose PUBACK was lost (its connection dropped after the message was stored) sends the
 * message again on its next connection, with the same packet id (MQTT 3.1.1 §4.4; the DUP flag is
 * required by the spec but mqtt.js, for one, does not set it). So when a connection ends its last
 * {@link REMEMBERED_PUBLISHES} QoS 1 publishes become *pending* for its device, and a publish on a
 * later connection with the same packet id and the same payload bytes takes the pending message's
 * id once (the entry is consumed). On a live connection only a DUP publish repeating one of that
 * connection's packets is a redelivery. Anything else gets a fresh id: at worst a duplicate row.
 * The one case this conflates is a device that, right after reconnecting, sends new bytes
 * identical to a message whose PUBACK it did receive, under the same packet id.
 * @internal
 */
export class RedeliveryIds {
  readonly #pending = new Map<string, SentPublishes>();

  /**
   * The id for a publish by `device` (its full path) on a connection whose publishes are `sent`,
   * with `qos`, `packetId` and `dup` as on the wire.
   */
  idFor(
    device: string,
    sent: SentPublishes,
    publish: { qos: number; packetId: number | undefined; dup: boolean; payload: Buffer },
  ): string {
    const { qos, packetId, dup, payload } = publish;
    if (qos !== 1 || packetId === undefined) return randomUUID();
    // One-shot hash: a third of createHash's cost per publish (no Hash object per message).
    const digest = hash('sha256', payload, 'base64');
    const pending = this.#pending.get(device);
    const earlier = pending?.get(packetId);
    let id: string;
    if (earlier !== undefined && earlier.digest === digest) {
      pending?.delete(packetId);
      id = earlier.id;
    } else {
      const mine = sent.get(packetId);
      id = dup && mine !== undefined && mine.digest === digest ? mine.id : randomUUID();
    }
    remember(sent, packetId, { digest, id });
    return id;
  }

  /** A connection of `device` ended: what it sent may be redelivered on the next one. */
  ended(device: string, sent: SentPublishes): void {
    if (sent.size === 0) return;
    const pending = this.#pending.get(device) ?? new Map<number, Remembered>();
    for (const [packetId, r] of sent) remember(pending, packetId, r);
    this.#pending.set(device, pending);
  }

  /** Forgets a device (deleted from its registry). */
  forget(device: string): void {
    this.#pending.delete(device);
  }
}

function remember(map: SentPublishes, packetId: number, r: Remembered): void {
  map.delete(packetId);
  map.set(packetId, r);
  if (map.size > REMEMBERED_PUBLISHES) map.delete(map.keys().next().value as number);
}
