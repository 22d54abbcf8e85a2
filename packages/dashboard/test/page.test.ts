import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vectorPath } from '@otakit/test-support';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../src/index.js';
import { launchChromium, SCREENSHOTS } from './browser.js';
import {
  connectDevice,
  deployArtifact,
  gatedRolloutState,
  nextDeployment,
  REGISTRY,
  reportStatus,
  startTestFleet,
  type TestFleet,
  telemetryFor,
} from './fleet.js';

const ARTIFACT = 'shared-rootfs-1';

describe('the fleet page in Chromium', () => {
  let fleet: TestFleet;
  let dash: Dashboard;
  let browser: Browser;
  let page: Page;
  let deploymentId: string;
  let dir: string;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    fleet = await startTestFleet(5);
    for (const d of fleet.devices.slice(0, 4)) await connectDevice(fleet, d, 'release-1');
    await fleet.telemetry.appendBatch(
      telemetryFor(
        [
          { deviceId: 'dev-0001', release: 'release-1' },
          { deviceId: 'dev-0002', release: 'release-1' },
          { deviceId: 'dev-0003', release: 'release-1' },
          { deviceId: 'dev-0004', release: 'release-2' },
        ],
        30,
      ),
    );
    deploymentId = await deployArtifact(
      fleet,
      vectorPath('rootfs-gzip-unsigned.mender'),
      ARTIFACT,
      fleet.devices.slice(0, 2),
    );
    dir = mkdtempSync(join(tmpdir(), 'otakit-dash-page-'));
    writeFileSync(join(dir, 'rollout.json'), JSON.stringify(gatedRolloutState(ARTIFACT)));
    dash = await startDashboard({
      management: fleet.management,
      telemetry: fleet.telemetry,
      rolloutStateFiles: [join(dir, 'rollout.json')],
      refreshMs: 200,
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(dash.url);
  });
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await fleet?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every device with the release it runs', async () => {
    const rows = page.locator('#fleet-table tbody tr');
    await expect.poll(() => rows.count()).toBe(5);
    const table = await rows.evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute('data-device'), tr.querySelector('.release')?.textContent]),
    );
    expect(table).toEqual([
      ['dev-0001', 'release-1'],
      ['dev-0002', 'release-1'],
      ['dev-0003', 'release-1'],
      ['dev-0004', 'release-2'],
      ['dev-0005', '—'],
    ]);
    await expect
      .poll(() => page.locator('#releases tbody tr').allTextContents())
      .toEqual(['release-13', 'release-21']);
  });

  it('shows the gated rollout with the numbers behind each gate decision and its rollback', async () => {
    const panel = page.locator('#rollouts');
    await expect
      .poll(() => panel.locator('li[data-verdict="regression"]').textContent())
      .toBe(
        'cpu_temp:p95:+10% regression: updated 62.25 (40 samples) · baseline 54.50 (120 samples) · limit 59.95 · p95 62.25 is over the limit 59.95',
      );
    expect(await panel.locator('.rollback').textContent()).toBe(
      'Rollback succeeded: 2 devices back to release-1',
    );
    expect(await panel.locator('h3').textContent()).toBe(`gated → ${ARTIFACT}`);
  });

  it('filters the fleet by release and status', async () => {
    await page.selectOption('#filter-release', 'release-2');
    expect(await page.locator('#fleet-table tbody tr').getAttribute('data-device')).toBe('dev-0004');
    await page.selectOption('#filter-release', '');
    await page.selectOption('#filter-status', 'preauthorized');
    expect(await page.locator('#fleet-table tbody tr').count()).toBe(1);
    expect(await page.locator('#fleet-count').textContent()).toBe('1 of 5 devices');
    await page.selectOption('#filter-status', '');
    expect(await page.locator('#fleet-table tbody tr').count()).toBe(5);
  });

  it("shows a deployment's progress as devices report it, without a reload", async () => {
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    const card = page.locator(`[data-deployment="${deploymentId}"]`);
    await expect.poll(() => card.locator('li[data-device="dev-0001"] strong').textContent()).toBe('pending');
    const d1 = fleet.devices[0]!;
    expect((await nextDeployment(fleet, d1, 'release-1'))?.id).toBe(deploymentId);
    await reportStatus(fleet, d1, deploymentId, 'downloading');
    await expect
      .poll(() => card.locator('li[data-device="dev-0001"] strong').textContent())
      .toBe('downloading');
    await reportStatus(fleet, d1, deploymentId, 'installing');
    await reportStatus(fleet, d1, deploymentId, 'success');
    await expect.poll(() => card.locator('li[data-device="dev-0001"] strong').textContent()).toBe('success');
    expect(await card.locator('progress').getAttribute('value')).toBe('1');
    expect(await page.locator('#fleet-table tr[data-device="dev-0001"] td').nth(4).textContent()).toBe(
      'success',
    );
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
  });

  it('draws the chosen metric of a release with uPlot', async () => {
    await page.selectOption('#chart-release', 'release-1');
    await page.selectOption('#chart-metric', 'cpu_temp');
    const plot = page.locator('#chart-plot');
    await expect
      .poll(() => plot.getAttribute('aria-label'))
      .toMatch(/^cpu_temp of release-1: mean per 60 s, 90 samples$/);
    // The series line is drawn: the canvas holds pixels of the line's colour (#1d4ed8).
    const blue = await page.locator('#chart-plot canvas').evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] === 0x1d && data[i + 1] === 0x4e && data[i + 2] === 0xd8) n++;
      }
      return n;
    });
    expect(blue).toBeGreaterThan(50);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-fleet.png'), fullPage: true });
  });

  it('reaches every control from the keyboard, with a visible focus', async () => {
    const controls = await page.evaluate(() =>
      [...document.querySelectorAll('a[href], select, summary, button, input')]
        .filter((el) => (el as HTMLElement).offsetParent !== null || el.classList.contains('skip'))
        .map((el) => el.id || el.getAttribute('href') || el.textContent || ''),
    );
    expect(controls).toContain('filter-release');
    expect(controls).toContain('chart-metric');
    expect(controls).toContain('#/device/dev-0005');
    const reached = new Set<string>();
    let outline = '';
    await page.locator('body').focus();
    for (let i = 0; i < controls.length + 5; i++) {
      await page.keyboard.press('Tab');
      const el = await page.evaluate(() => {
        const a = document.activeElement as HTMLElement | null;
        if (!a || a === document.body) return { key: '', outline: '' };
        return {
          key: a.id || a.getAttribute('href') || a.textContent || '',
          outline: getComputedStyle(a).outlineStyle,
        };
      });
      reached.add(el.key);
      if (el.key === 'filter-release') outline = el.outline;
    }
    expect(controls.filter((c) => !reached.has(c))).toEqual([]);
    expect(outline).toBe('solid');
  });

  it('opens a device from the keyboard and shows its telemetry and deployments', async () => {
    await page.locator('a[href="#/device/dev-0001"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#device-title').textContent()).toBe('Device dev-0001');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('device-title');
    expect(await page.locator('#fleet-view').isHidden()).toBe(true);
    expect(await page.locator('#device-telemetry tbody tr').count()).toBe(30);
    expect(await page.locator('#device-deployments tbody tr td').allTextContents()).toEqual([
      'canary',
      ARTIFACT,
      'success',
      expect.stringMatching(/ago$/),
    ]);
    // The open device view follows new telemetry without a reload.
    await fleet.telemetry.append({
      deviceId: 'dev-0001',
      registry: REGISTRY,
      kind: 'event',
      payload: { artifact_name: ARTIFACT, cpu_temp: 49 },
    });
    await expect.poll(() => page.locator('#device-telemetry tbody tr').count()).toBe(31);
    expect(await page.locator('#device-telemetry tbody tr td').nth(1).textContent()).toBe(ARTIFACT);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('device-title');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-device.png'), fullPage: true });
    await page.goBack();
    await expect.poll(() => page.locator('#fleet-view').isVisible()).toBe(true);
  });

  it('logged no error or warning in the console', () => {
    expect(consoleErrors).toEqual([]);
  });
});
