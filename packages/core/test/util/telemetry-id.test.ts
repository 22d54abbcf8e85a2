import { describe, expect, it } from 'vitest';
import { TELEMETRY_ID_ATTRIBUTE, telemetryDeviceId } from '../../src/index.js';

describe('telemetryDeviceId', () => {
  it('joins a Mender device to its registry id through identity device_id', () => {
    expect(TELEMETRY_ID_ATTRIBUTE).toBe('device_id');
    expect(telemetryDeviceId({ id: 'm-1', identity_data: { device_id: 'g-42', mac: 'x' } })).toBe('g-42');
  });

  it('falls back to the Mender id without a usable device_id', () => {
    expect(telemetryDeviceId({ id: 'm-1', identity_data: { mac: '00:11' } })).toBe('m-1');
    expect(telemetryDeviceId({ id: 'm-1', identity_data: { device_id: '' } })).toBe('m-1');
    expect(telemetryDeviceId({ id: 'm-1', identity_data: { device_id: 42 } })).toBe('m-1');
    expect(telemetryDeviceId({ id: 'm-1', identity_data: null })).toBe('m-1');
    expect(telemetryDeviceId({ id: 'm-1' })).toBe('m-1');
  });

  it('does not read an inherited device_id', () => {
    const identity = Object.create({ device_id: 'inherited' }) as Record<string, unknown>;
    expect(telemetryDeviceId({ id: 'm-1', identity_data: identity })).toBe('m-1');
  });
});
