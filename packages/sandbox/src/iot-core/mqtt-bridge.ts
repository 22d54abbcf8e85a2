import { createServer, type Server, type Socket } from 'node:net';
import type { Aedes, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes';
import { TOKEN_EXPIRED, verifyDeviceJwt } from './keys.js';
import { RedeliveryIds, type SentPublishes } from './redelivery.js';
import { type DeviceRecord, findDevice, type RegistryRecord, verifyCredentials } from './store.js';
import type { IotCoreWorld } from './world.js';

/** CONNACK return codes of MQTT 3.1.1. @internal */
export const CONNACK = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL: 1,
  IDENTIFIER_REJECTED: 2,
  BAD_CREDENTIALS: 4,
  NOT_AUTHORIZED: 5,
} as const;

/**
 * The largest MQTT packet the bridge reads: the telemetry limit plus room for the topic. A packet
 * announcing more is cut off while it arrives instead of being buffered whole. @internal
 */
export const MAX_PACKET_BYTES = 320 * 1024;

/** IoT Core's payload limits (quotas page): telemetry 256 KB, state 64 KB. @internal */
export const MAX_TELEMETRY_BYTES = 256 * 1024;
/** @internal */
export const MAX_STATE_BYTES = 64 * 1024;

const CLIENT_ID = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)\/devices\/([^/]+)$/;

/** The parts of mqtt-packet's parser the bridge looks at. */
interface MqttParser extends NodeJS.EventEmitter {
  packet?: { length?: number };
  _list?: { length: number };
}

/** An authenticated device connection. */
interface Connection {
  client: Client;
  reg: RegistryRecord;
  device: DeviceRecord;
  token: string;
  /** The JWT's `exp`, seconds since the epoch. */
  exp: number;
  expiryTimer: NodeJS.Timeout | undefined;
  /** This connection's recent QoS 1 publishes (see {@link RedeliveryIds}). */
  sent: SentPublishes;
  /** Why the bridge closed it, when it did. */
  reason: string | undefined;
}

/** A publish the device may make: telemetry (with its subfolder) or state. */
type Route = { kind: 'event'; subfolder: string | undefined } | { kind: 'state' };

function refusal(returnCode: 2 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The IoT Core MQTT bridge on an aedes broker, with IoT Core's rules (research/iot-core.md §2.2):
 * MQTT 3.1.1 only; client id = device path (`projects/P/locations/L/registries/R/devices/D`, D the
 * string or numeric id), password = device JWT (username ignored), verified with core's
 * `verifyJwt`; a blocked device, an unknown one or a bad JWT gets CONNACK 5. A device publishes
 * only to its own `/devices/{id}/events[/subfolder]` (≤ 256 KB) and `/devices/{id}/state`
 * (≤ 64 KB), QoS 0 or 1; it subscribes only to its own `/devices/{id}/config` (the current config
 * is delivered at once) and `/devices/{id}/commands/#` (QoS 2 downgraded to 1, anything else granted
 * 128). Anything else a device publishes (another topic, QoS 2, an oversized payload) closes the
 * connection without PUBACK, as does a telemetry store that fails. No retained messages, no wills,
 * no persistent sessions. The connection is closed when its JWT expires; one connection per
 * device (a new one takes over).
 *
 * Each accepted message is handed to the world (and its sink) before aedes acknowledges it, so a
 * QoS 1 PUBACK means the message is stored.
 * @internal
 */
export class MqttBridge {
  readonly server: Server;
  readonly #world: IotCoreWorld;
  readonly #connections = new Map<DeviceRecord, Connection>();
  readonly #byClient = new WeakMap<Client, Connection>();
  readonly #redelivery = new RedeliveryIds();
  readonly #sockets = new Set<Socket>();
  #broker: Aedes | undefined;

  constructor(world: IotCoreWorld) {
    this.#world = world;
    this.server = createServer((socket) => this.#accept(socket));
    world.hooks = {
      configChanged: (_reg, d) => {
        const c = this.#connections.get(d);
        if (c) this.#sendConfig(c);
      },
      command: (_reg, d, data, sub) => {
        const c = this.#connections.get(d);
        const subscription = c ? this.#subscription(c, `/devices/${d.id}/commands/#`) : undefined;
        if (!c || subscription === undefined) return false;
        this.#publish(c, `/devices/${d.id}/commands${sub ? `/${sub}` : ''}`, data, subscription);
        return true;
      },
      deviceChanged: (reg, d) => {
        const c = this.#connections.get(d);
        if (!c) return;
        if (!reg.devices.has(d.id) || d.blocked) {
          if (!reg.devices.has(d.id)) this.#redelivery.forget(c.client.id);
          this.#drop(c, 'device deleted or blocked');
          return;
        }
        void verifyDeviceJwt(c.token, verifyCredentials(d), reg.project, world.now().getTime()).then((r) => {
          if (!r.ok) this.#drop(c, 'credentials changed');
        });
      },
    };
  }

  /** Starts the broker and listens; resolves with the port. */
  async listen(port: number, host: string): Promise<number> {
    // aedes is ESM-only: a dynamic import loads it from the CJS build too.
    const { Aedes } = await import('aedes');
    this.#broker = await Aedes.createBroker({
      preConnect: (client, packet, done) => this.#preConnect(client, packet, done),
      authenticate: (client, _username, password, done) => {
        void this.#authenticate(client, password).then(
          () => done(null, true),
          (err: AuthenticateError) => done(err, false),
        );
      },
      authorizePublish: (client, packet, done) => {
        // Policy refusals close the connection at once; the store is awaited before the PUBACK.
        let accepted: () => Promise<void>;
        try {
          accepted = this.#authorizePublish(client, packet);
        } catch (err) {
          done(err as Error);
          return;
        }
        accepted().then(
          () => done(null),
          (err: Error) => done(err),
        );
      },
      authorizeSubscribe: (client, sub, done) => done(null, this.#authorizeSubscribe(client, sub)),
    });
    this.#broker.on('clientReady', (client) => this.#ready(client));
    this.#broker.on('clientDisconnect', (client) => this.#gone(client));
    this.#broker.on('subscribe', (subs, client) => {
      const c = this.#byClient.get(client);
      if (c && subs.some((s) => s.topic === `/devices/${c.device.id}/config`)) this.#sendConfig(c);
    });
    this.#broker.on('ack', (_packet, client) => {
      const c = this.#byClient.get(client);
      if (c) c.device.lastConfigAckTime = this.#world.now().toISOString();
    });
    this.#broker.on('ping', (_packet, client) => {
      const c = this.#byClient.get(client);
      if (c) c.device.lastHeartbeatTime = this.#world.now().toISOString();
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  /** Closes every connection, the broker and the listener. */
  async close(): Promise<void> {
    for (const c of this.#connections.values()) clearTimeout(c.expiryTimer);
    for (const s of this.#sockets) s.destroy();
    const broker = this.#broker;
    await Promise.all([
      new Promise<void>((resolve) => this.server.close(() => resolve())),
      broker ? new Promise<void>((resolve) => broker.close(() => resolve())) : undefined,
    ]);
  }

  /** Whether a device has an open connection. */
  isConnected(d: DeviceRecord): boolean {
    return this.#connections.has(d);
  }

  #accept(socket: Socket): void {
    const broker = this.#broker;
    if (!broker) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const client = broker.handle(socket);
    // aedes's parser (mqtt-packet, private, guarded) buffers a packet until it is complete. Runs after
    // aedes's own 'readable' handler has fed it, so it sees the announced and the buffered length.
    const parser = (client as unknown as { _parser?: MqttParser })._parser;
    socket.on('readable', () => {
      const announced = parser?.packet?.length ?? -1;
      if (announced > MAX_PACKET_BYTES || (parser?._list?.length ?? 0) > MAX_PACKET_BYTES) socket.destroy();
    });
    // IoT Core downgrades a QoS 2 subscription to 1; aedes reports the granted QoS as asked before
    // authorizeSubscribe runs, so lower it as the packet is parsed.
    parser?.prependListener('packet', (packet: { cmd?: string; subscriptions?: Array<{ qos: number }> }) => {
      if (packet.cmd !== 'subscribe') return;
      for (const s of packet.subscriptions ?? []) if (s.qos > 1) s.qos = 1;
    });
  }

  #preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void {
    if (packet.protocolVersion !== 4) {
      const reason = 'MQTT 3.1.1 only';
      this.#world.events.emit('mqtt:refused', {
        clientId: packet.clientId,
        returnCode: CONNACK.UNACCEPTABLE_PROTOCOL,
        reason,
      });
      client.conn.write(Buffer.from([0x20, 2, 0, CONNACK.UNACCEPTABLE_PROTOCOL]));
      done(new Error(reason), false);
      return;
    }
    // IoT Core supports neither wills nor persistent sessions.
    packet.will = undefined;
    packet.clean = true;
    done(null, true);
  }

  async #authenticate(client: Client, password: Buffer | undefined): Promise<void> {
    const clientId = client.id;
    const refuse = (code: 2 | 4 | 5, reason: string) => {
      this.#world.events.emit('mqtt:refused', { clientId, returnCode: code, reason });
      return refusal(code, reason);
    };
    const m = CLIENT_ID.exec(clientId);
    if (!m) throw refuse(CONNACK.IDENTIFIER_REJECTED, 'client id is not a device path');
    const [, project = '', location = '', regId = '', devSeg = ''] = m;
    const reg = this.#world.registry(project, location, regId);
    const device = reg ? findDevice(reg, devSeg) : undefined;
    if (!reg || !device) throw refuse(CONNACK.NOT_AUTHORIZED, 'no such device');
    if (password === undefined) throw refuse(CONNACK.NOT_AUTHORIZED, 'no JWT in the password');
    const token = password.toString('utf8');
    const nowMs = this.#world.now().getTime();
    const result = await verifyDeviceJwt(token, verifyCredentials(device), project, nowMs);
    if (!result.ok) throw refuse(CONNACK.NOT_AUTHORIZED, result.reason);
    if (device.blocked) throw refuse(CONNACK.NOT_AUTHORIZED, 'device is blocked');
    const previous = this.#connections.get(device);
    if (previous) previous.reason ??= 'another connection took over';
    const conn: Connection = {
      client,
      reg,
      device,
      token,
      exp: result.exp,
      expiryTimer: undefined,
      sent: new Map(),
      reason: undefined,
    };
    this.#byClient.set(client, conn);
  }

  #ready(client: Client): void {
    const conn = this.#byClient.get(client);
    if (!conn) return;
    const previous = this.#connections.get(conn.device);
    if (previous && previous.client !== client) {
      // Its publishes may be redelivered on this connection before its close is seen.
      this.#redelivery.ended(client.id, previous.sent);
      previous.sent = new Map();
      this.#drop(previous, 'another connection took over');
    }
    this.#connections.set(conn.device, conn);
    // The bridge closes a connection when its token expires (MQTT cannot refresh credentials).
    const msLeft = conn.exp * 1000 - this.#world.now().getTime();
    conn.expiryTimer = setTimeout(() => this.#drop(conn, TOKEN_EXPIRED), Math.max(0, msLeft));
    conn.expiryTimer.unref();
    conn.device.lastHeartbeatTime = this.#world.now().toISOString();
    this.#world.events.emit('mqtt:connect', { clientId: client.id, deviceId: conn.device.id });
  }

  #gone(client: Client): void {
    const conn = this.#byClient.get(client);
    if (!conn) return;
    clearTimeout(conn.expiryTimer);
    this.#redelivery.ended(client.id, conn.sent);
    if (this.#connections.get(conn.device) === conn) this.#connections.delete(conn.device);
    this.#world.events.emit('mqtt:disconnect', {
      clientId: client.id,
      deviceId: conn.device.id,
      reason: conn.reason ?? 'closed',
    });
  }

  #route(c: Connection, topic: string): Route | undefined {
    const base = `/devices/${c.device.id}`;
    if (topic === `${base}/state`) return { kind: 'state' };
    if (topic === `${base}/events`) return { kind: 'event', subfolder: undefined };
    if (topic.startsWith(`${base}/events/`)) {
      const subfolder = topic.slice(base.length + '/events/'.length);
      return subfolder === '' ? undefined : { kind: 'event', subfolder };
    }
    return undefined;
  }

  /**
   * Checks a device's publish against IoT Core's rules (throws when refused) and returns the step
   * that stores it.
   */
  #authorizePublish(client: Client | null, packet: PublishPacket): () => Promise<void> {
    const c = client ? this.#byClient.get(client) : undefined;
    if (!c) throw new Error('not a device connection');
    if (packet.qos > 1) throw new Error('QoS 2 is not supported');
    const route = this.#route(c, packet.topic);
    if (!route) throw new Error('topic not allowed for this device');
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const limit = route.kind === 'state' ? MAX_STATE_BYTES : MAX_TELEMETRY_BYTES;
    if (payload.length > limit) throw new Error(`${route.kind} payload over ${limit / 1024} KB`);
    packet.retain = false;
    const id = this.#redelivery.idFor(c.client.id, c.sent, {
      qos: packet.qos,
      packetId: packet.messageId,
      dup: packet.dup,
      payload,
    });
    // Stored before aedes sends the PUBACK; a rejection closes the connection without one.
    return route.kind === 'state'
      ? () => this.#world.recordState(c.reg, c.device, payload, 'mqtt', id)
      : () => this.#world.recordTelemetry(c.reg, c.device, payload, route.subfolder, 'mqtt', id);
  }

  #authorizeSubscribe(client: Client, sub: Subscription): Subscription | null {
    const c = this.#byClient.get(client);
    if (!c) return null;
    const base = `/devices/${c.device.id}`;
    if (sub.topic !== `${base}/config` && sub.topic !== `${base}/commands/#`) return null;
    return { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 };
  }

  #subscription(c: Connection, topic: string): 0 | 1 | undefined {
    const subs = (c.client as unknown as { subscriptions: Record<string, { qos: number } | undefined> })
      .subscriptions;
    const qos = subs[topic]?.qos;
    return qos === undefined ? undefined : (Math.min(qos, 1) as 0 | 1);
  }

  #sendConfig(c: Connection): void {
    const qos = this.#subscription(c, `/devices/${c.device.id}/config`);
    if (qos === undefined) return;
    c.device.lastConfigSendTime = this.#world.now().toISOString();
    this.#publish(
      c,
      `/devices/${c.device.id}/config`,
      Buffer.from(c.device.config.binaryData, 'base64'),
      qos,
    );
  }

  #publish(c: Connection, topic: string, payload: Buffer, qos: 0 | 1): void {
    const packet = { cmd: 'publish', topic, payload, qos, retain: false, dup: false };
    c.client.publish(packet as unknown as PublishPacket, () => {});
  }

  #drop(c: Connection, reason: string): void {
    clearTimeout(c.expiryTimer);
    c.reason ??= reason;
    c.client.close();
  }
}
