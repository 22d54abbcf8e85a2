// The simulated devices of bench/telemetry.bench.ts, in their own process (devices are not on the
// server). Each device has its own MQTT connection, client id (its device path) and JWT, signed
// with the key in OTAKIT_BENCH_KEY_PEM. Two simulators (OTAKIT_BENCH_SIMULATOR):
// - `lean` (default): each device is a plain TCP socket speaking MQTT 3.1.1 itself (CONNECT with
//   the JWT minted by the adapter's `mintIotCoreJwt`, QoS 1 PUBLISH, PUBACK, PINGREQ), so that on a
//   machine where the devices share the server's cores the load generator takes as little of them
//   as it can: the server sees exactly the packets a device sends;
// - `sdk`: each device is an `IotCoreDevice` of @otakit/iot-core-adapter (mqtt.js), as a device
//   agent runs it, which costs the shared cores several times more per message.
// Protocol over the IPC channel: the parent sends `{ ids, mqttUrl, where }`; this process connects
// every device and answers `{ ready: true }`; then each `{ publish: n }` makes every device publish
// ceil(n / devices) QoS 1 messages in sequence, each awaiting its PUBACK, answered by
// `{ published, seconds, cpuSeconds }` (this process's CPU time); `{ close: true }` disconnects.
// Not a benchmark itself (the runner only runs *.bench.* files).
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const adapter = await import(pathToFileURL(join(root, 'packages/iot-core-adapter/dist/index.js')).href);
const key = process.env.OTAKIT_BENCH_KEY_PEM;
const SIMULATOR = process.env.OTAKIT_BENCH_SIMULATOR ?? 'lean';
const RELEASES = ['release-1', 'release-2', 'release-3'];
let devices = [];
let seq = 0;

/** An MQTT remaining-length field (MQTT 3.1.1 §2.2.3). */
function remainingLength(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** A UTF-8 string with its 2-byte length prefix. */
function mqttString(s) {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function packet(firstByte, body) {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

/** One device on a plain socket: CONNECT, QoS 1 PUBLISH awaiting PUBACK, PINGREQ while idle. */
class LeanDevice {
  #socket;
  #topic;
  #nextId = 1;
  #acks = new Map();
  #buffered = Buffer.alloc(0);
  #connack;
  #ping;

  constructor(where, deviceId, mqttUrl) {
    this.where = where;
    this.deviceId = deviceId;
    this.url = new URL(mqttUrl);
    this.#topic = mqttString(`/devices/${deviceId}/events`);
  }

  async connect() {
    const { project, location, registry } = this.where;
    const token = await adapter.mintIotCoreJwt({ privateKey: key, projectId: project });
    const clientId = `projects/${project}/locations/${location}/registries/${registry}/devices/${this.deviceId}`;
    const keepalive = 60;
    const variable = Buffer.concat([
      mqttString('MQTT'),
      Buffer.from([4, 0xc2, keepalive >> 8, keepalive & 0xff]), // level 4; username, password, clean
    ]);
    const body = Buffer.concat([variable, mqttString(clientId), mqttString('unused'), mqttString(token)]);
    this.#socket = connect({ host: this.url.hostname, port: Number(this.url.port), noDelay: true });
    this.#socket.on('data', (chunk) => this.#read(chunk));
    const connected = new Promise((ok, fail) => {
      this.#connack = { ok, fail };
      this.#socket.once('error', fail);
      this.#socket.once('close', () => fail(new Error(`${this.deviceId}: connection closed`)));
    });
    this.#socket.write(packet(0x10, body));
    await connected;
    this.#ping = setInterval(() => this.#socket.write(Buffer.from([0xc0, 0])), (keepalive / 2) * 1000);
    this.#ping.unref();
  }

  #read(chunk) {
    let buf = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      if (buf.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let i = 1;
      let complete = false;
      for (; i < 5 && i < buf.length; i++) {
        length += (buf[i] & 0x7f) * multiplier;
        multiplier *= 128;
        if ((buf[i] & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || buf.length < i + 1 + length) break;
      const type = buf[0] >> 4;
      const body = buf.subarray(i + 1, i + 1 + length);
      if (type === 2) {
        if (body[1] === 0) this.#connack.ok();
        else this.#connack.fail(new Error(`${this.deviceId}: CONNACK ${body[1]}`));
      } else if (type === 4) {
        const id = body.readUInt16BE(0);
        const done = this.#acks.get(id);
        this.#acks.delete(id);
        done?.();
      }
      buf = buf.subarray(i + 1 + length);
    }
    this.#buffered = buf;
  }

  publishTelemetry(payload) {
    const id = this.#nextId;
    this.#nextId = id === 0xffff ? 1 : id + 1;
    const data = Buffer.from(payload, 'utf8');
    const header = Buffer.allocUnsafe(2);
    header.writeUInt16BE(id);
    return new Promise((ok) => {
      this.#acks.set(id, ok);
      this.#socket.write(packet(0x32, Buffer.concat([this.#topic, header, data])));
    });
  }

  async close() {
    clearInterval(this.#ping);
    await new Promise((done) => this.#socket.end(Buffer.from([0xe0, 0]), done));
  }
}

process.on('message', async (msg) => {
  if (msg.ids) {
    devices = msg.ids.map((id) =>
      SIMULATOR === 'sdk'
        ? new adapter.IotCoreDevice({ ...msg.where, deviceId: id, privateKey: key, mqttUrl: msg.mqttUrl })
        : new LeanDevice(msg.where, id, msg.mqttUrl),
    );
    for (let i = 0; i < devices.length; i += 50)
      await Promise.all(devices.slice(i, i + 50).map((d) => d.connect()));
    process.send({ ready: true });
  } else if (msg.publish) {
    const perDevice = Math.ceil(msg.publish / devices.length);
    const cpu = process.cpuUsage();
    const t = performance.now();
    await Promise.all(
      devices.map(async (device, d) => {
        for (let i = 0; i < perDevice; i++) {
          const s = seq++;
          const payload = JSON.stringify({
            artifact_name: RELEASES[d % 3],
            software_version: `1.${d % 3}.0`,
            cpu: ((d * 7 + s * 13) % 1000) / 1000,
            temp: 40 + ((d + s) % 300) / 10,
            seq: s,
          });
          await device.publishTelemetry(payload);
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    process.send({
      published: perDevice * devices.length,
      seconds: (performance.now() - t) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
    });
  } else if (msg.close) {
    await Promise.all(devices.map((d) => d.close()));
    process.exit(0);
  }
});
