// The simulated devices of bench/telemetry.bench.ts, in their own process (devices are not on the
// server): one IotCoreDevice per device id, each with its own MQTT connection and JWT, all signing
// with the key in OTAKIT_BENCH_KEY_PEM. Protocol over the IPC channel: the parent sends
// `{ ids, mqttUrl, where }`; this process connects every device and answers `{ ready: true }`; then
// each `{ publish: n }` makes every device publish ceil(n / devices) QoS 1 messages in sequence,
// each awaiting its PUBACK, answered by `{ published, seconds }`; `{ close: true }` disconnects.
// Not a benchmark itself (the runner only runs *.bench.* files).
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const adapter = await import(pathToFileURL(join(root, 'packages/iot-core-adapter/dist/index.js')).href);
const key = process.env.OTAKIT_BENCH_KEY_PEM;
const RELEASES = ['release-1', 'release-2', 'release-3'];
let devices = [];
let seq = 0;

process.on('message', async (msg) => {
  if (msg.ids) {
    devices = msg.ids.map(
      (id) =>
        new adapter.IotCoreDevice({ ...msg.where, deviceId: id, privateKey: key, mqttUrl: msg.mqttUrl }),
    );
    for (let i = 0; i < devices.length; i += 50)
      await Promise.all(devices.slice(i, i + 50).map((d) => d.connect()));
    process.send({ ready: true });
  } else if (msg.publish) {
    const perDevice = Math.ceil(msg.publish / devices.length);
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
    process.send({ published: perDevice * devices.length, seconds: (performance.now() - t) / 1000 });
  } else if (msg.close) {
    await Promise.all(devices.map((d) => d.close()));
    process.exit(0);
  }
});
