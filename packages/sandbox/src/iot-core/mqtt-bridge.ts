import { createServer, type Server, type Socket } from 'node:net';
import { verifyDeviceJwt } from './keys.js';
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

const MAX_PACKET = 512 * 1024;

interface Connection {
  socket: Socket;
  clientId: string;
  reg: RegistryRecord;
  device: DeviceRecord;
  token: string;
  configQos: 0 | 1 | undefined;
  commandsQos: 0 | 1 | undefined;
  nextPacketId: number;
  expiryTimer: NodeJS.Timeout | undefined;
}

function encodeLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), encodeLength(body.length), body]);
}

function mqttString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

class Reader {
  #pos = 0;
  constructor(readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.#pos;
  }
  byte(): number {
    if (this.#pos >= this.buf.length) throw new Error('truncated packet');
    return this.buf[this.#pos++] as number;
  }
  u16(): number {
    return (this.byte() << 8) | this.byte();
  }
  bytes(): Buffer {
    const n = this.u16();
    if (this.#pos + n > this.buf.length) throw new Error('truncated packet');
    const out = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  string(): string {
    return this.bytes().toString('utf8');
  }
  rest(): Buffer {
    const out = this.buf.subarray(this.#pos);
    this.#pos = this.buf.length;
    return out;
  }
}

const CLIENT_ID = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)\/devices\/([^/]+)$/;

/**
 * A minimal MQTT 3.1.1 bridge with IoT Core's rules: client id = device path, password = device JWT
 * (username ignored), topics `/devices/{id}/events[/…]`, `/devices/{id}/state` (publish),
 * `/devices/{id}/config` and `/devices/{id}/commands/#` (subscribe), QoS 0/1 only, the connection
 * closed when the JWT expires, one connection per device (a new one takes over).
 * @internal
 */
export class MqttBridge {
  readonly server: Server;
  readonly #world: IotCoreWorld;
  readonly #connections = new Map<DeviceRecord, Connection>();
  readonly #sockets = new Set<Socket>();

  constructor(world: IotCoreWorld) {
    this.#world = world;
    this.server = createServer((socket) => this.#accept(socket));
    world.hooks = {
      configChanged: (_reg, d) => {
        const c = this.#connections.get(d);
        if (c?.configQos !== undefined) this.#sendConfig(c);
      },
      command: (_reg, d, data, sub) => {
        const c = this.#connections.get(d);
        if (c?.commandsQos === undefined) return false;
        this.#publish(c, `/devices/${d.id}/commands${sub ? `/${sub}` : ''}`, data, c.commandsQos);
        return true;
      },
      deviceChanged: (reg, d) => {
        const c = this.#connections.get(d);
        if (!c) return;
        const gone = !reg.devices.has(d.id) || d.blocked;
        const ok =
          !gone &&
          verifyDeviceJwt(c.token, verifyCredentials(d), reg.project, this.#world.now().getTime()).ok;
        if (!ok) this.#drop(c, gone ? 'device deleted or blocked' : 'credentials changed');
      },
    };
  }

  /** Starts listening; resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  /** Closes every connection and the listener. */
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Whether a device has an open connection. */
  isConnected(d: DeviceRecord): boolean {
    return this.#connections.has(d);
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    let conn: Connection | undefined;
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (conn) {
        clearTimeout(conn.expiryTimer);
        if (this.#connections.get(conn.device) === conn) {
          this.#connections.delete(conn.device);
          this.#world.events.emit('mqtt:disconnect', {
            clientId: conn.clientId,
            deviceId: conn.device.id,
            reason: 'closed',
          });
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      try {
        for (;;) {
          if (buffered.length < 2) return;
          let len = 0;
          let mult = 1;
          let i = 1;
          for (;;) {
            if (i >= buffered.length) return;
            const b = buffered[i] as number;
            len += (b & 0x7f) * mult;
            mult *= 128;
            i++;
            if ((b & 0x80) === 0) break;
            if (i > 4) throw new Error('malformed remaining length');
          }
          if (len > MAX_PACKET) throw new Error('packet too large');
          if (buffered.length < i + len) return;
          const first = buffered[0] as number;
          const body = buffered.subarray(i, i + len);
          buffered = buffered.subarray(i + len);
          const type = first >> 4;
          if (conn === undefined) {
            if (type !== 1) throw new Error('first packet must be CONNECT');
            conn = this.#connect(socket, new Reader(body));
            if (!conn) return;
          } else {
            this.#handle(conn, type, first & 0x0f, new Reader(body));
          }
        }
      } catch {
        socket.destroy();
      }
    });
  }

  #connect(socket: Socket, r: Reader): Connection | undefined {
    const protocol = r.string();
    const level = r.byte();
    const flags = r.byte();
    r.u16(); // keep alive
    const clientId = r.string();
    const refuse = (code: number, reason: string) => {
      this.#world.events.emit('mqtt:refused', { clientId, returnCode: code, reason });
      socket.end(packet(0x20, Buffer.from([0, code])));
      return undefined;
    };
    if (protocol !== 'MQTT' || level !== 4) return refuse(CONNACK.UNACCEPTABLE_PROTOCOL, 'MQTT 3.1.1 only');
    if (flags & 0x04) {
      r.string();
      r.bytes();
    }
    if (flags & 0x80) r.string();
    const password = flags & 0x40 ? r.bytes().toString('utf8') : undefined;
    const m = CLIENT_ID.exec(clientId);
    if (!m) return refuse(CONNACK.IDENTIFIER_REJECTED, 'client id is not a device path');
    const [, project = '', location = '', regId = '', devSeg = ''] = m;
    const reg = this.#world.registry(project, location, regId);
    const device = reg ? findDevice(reg, devSeg) : undefined;
    if (!reg || !device) return refuse(CONNACK.NOT_AUTHORIZED, 'no such device');
    if (password === undefined) return refuse(CONNACK.NOT_AUTHORIZED, 'no JWT in the password');
    const nowMs = this.#world.now().getTime();
    const result = verifyDeviceJwt(password, verifyCredentials(device), project, nowMs);
    if (!result.ok) return refuse(CONNACK.NOT_AUTHORIZED, result.reason);
    if (device.blocked) return refuse(CONNACK.NOT_AUTHORIZED, 'device is blocked');
    const previous = this.#connections.get(device);
    if (previous) this.#drop(previous, 'another connection took over');
    const conn: Connection = {
      socket,
      clientId,
      reg,
      device,
      token: password,
      configQos: undefined,
      commandsQos: undefined,
      nextPacketId: 1,
      expiryTimer: undefined,
    };
    const msLeft = result.exp * 1000 - nowMs;
    conn.expiryTimer = setTimeout(() => this.#drop(conn, 'The authorization token expired.'), msLeft);
    conn.expiryTimer.unref();
    this.#connections.set(device, conn);
    device.lastHeartbeatTime = this.#world.now().toISOString();
    socket.write(packet(0x20, Buffer.from([0, CONNACK.ACCEPTED])));
    this.#world.events.emit('mqtt:connect', { clientId, deviceId: device.id });
    return conn;
  }

  #handle(c: Connection, type: number, flags: number, r: Reader): void {
    const id = c.device.id;
    switch (type) {
      case 3: {
        const qos = (flags >> 1) & 0x03;
        if (qos > 1) throw new Error('QoS 2 is not supported');
        const topic = r.string();
        const packetId = qos > 0 ? r.u16() : undefined;
        const payload = Buffer.from(r.rest());
        const events = `/devices/${id}/events`;
        if (topic === events || topic.startsWith(`${events}/`)) {
          if (payload.length > 256 * 1024) throw new Error('telemetry over 256 KB');
          const sub = topic.length > events.length ? topic.slice(events.length + 1) : undefined;
          this.#world.recordTelemetry(c.reg, c.device, payload, sub, 'mqtt');
        } else if (topic === `/devices/${id}/state`) {
          if (payload.length > 64 * 1024) throw new Error('state over 64 KB');
          this.#world.recordState(c.reg, c.device, payload, 'mqtt');
        } else {
          throw new Error(`topic not allowed: ${topic}`);
        }
        if (packetId !== undefined) {
          c.socket.write(packet(0x40, Buffer.from([packetId >> 8, packetId & 0xff])));
        }
        return;
      }
      case 4: // PUBACK of a config or command delivery
        if (c.device.config && c.configQos === 1)
          c.device.lastConfigAckTime = this.#world.now().toISOString();
        return;
      case 8: {
        const packetId = r.u16();
        const granted: number[] = [];
        let deliverConfig = false;
        while (r.remaining > 0) {
          const topic = r.string();
          const qos = Math.min(r.byte() & 0x03, 1) as 0 | 1;
          if (topic === `/devices/${id}/config`) {
            c.configQos = qos;
            granted.push(qos);
            deliverConfig = true;
          } else if (topic === `/devices/${id}/commands/#`) {
            c.commandsQos = qos;
            granted.push(qos);
          } else {
            granted.push(0x80);
          }
        }
        c.socket.write(packet(0x90, Buffer.from([packetId >> 8, packetId & 0xff, ...granted])));
        if (deliverConfig) this.#sendConfig(c);
        return;
      }
      case 10: {
        const packetId = r.u16();
        while (r.remaining > 0) {
          const topic = r.string();
          if (topic === `/devices/${id}/config`) c.configQos = undefined;
          if (topic === `/devices/${id}/commands/#`) c.commandsQos = undefined;
        }
        c.socket.write(packet(0xb0, Buffer.from([packetId >> 8, packetId & 0xff])));
        return;
      }
      case 12:
        c.device.lastHeartbeatTime = this.#world.now().toISOString();
        c.socket.write(Buffer.from([0xd0, 0]));
        return;
      case 14:
        c.socket.end();
        return;
      default:
        throw new Error(`unexpected packet type ${type}`);
    }
  }

  #sendConfig(c: Connection): void {
    const config = c.device.config;
    c.device.lastConfigSendTime = this.#world.now().toISOString();
    this.#publish(
      c,
      `/devices/${c.device.id}/config`,
      Buffer.from(config.binaryData, 'base64'),
      c.configQos ?? 0,
    );
  }

  #publish(c: Connection, topic: string, payload: Buffer, qos: 0 | 1): void {
    const parts = [mqttString(topic)];
    if (qos === 1) {
      const id = c.nextPacketId;
      c.nextPacketId = (c.nextPacketId % 0xffff) + 1;
      parts.push(Buffer.from([id >> 8, id & 0xff]));
    }
    parts.push(payload);
    c.socket.write(packet(0x30 | (qos << 1), Buffer.concat(parts)));
  }

  #drop(c: Connection, reason: string): void {
    clearTimeout(c.expiryTimer);
    if (this.#connections.get(c.device) === c) {
      this.#connections.delete(c.device);
      this.#world.events.emit('mqtt:disconnect', { clientId: c.clientId, deviceId: c.device.id, reason });
    }
    c.socket.destroy();
  }
}
