// collect --web in headless Chromium (issue 15): one chart per device that starts with the --db
// history, a point for each reading of two devices within 2 s of its arrival, online/offline
// state, /readings.json, and a screenshot.
// Usage: node dashboard_test.mjs CONCUR_BINARY OUT_DIR
import {mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Concur, check, launchBrowser, main, outDir} from './harness.mjs';

const [binary, out] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const portOf = (line) => Number(/:(\d+) \(/.exec(line)[1]);
const readingDevice = (line) => /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ([^:]+): /.exec(line)?.[1];

main(async () => {
  const dir = outDir(out);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'concur-dash-'));
  const db = path.join(tmp, 'readings.db');
  const env = new Concur(binary, ['device', '--kind', 'env', '--port', '0', '--interval', '0.25']);
  const health = new Concur(binary, ['device', '--kind', 'health', '--port', '0', '--interval', '0.35']);
  const devArgs = [];
  for (const d of [env, health]) devArgs.push('--device', `127.0.0.1:${portOf(await d.waitLine(/^listening on /))}`);

  // A first run stores some history in the database.
  const first = new Concur(binary, ['collect', ...devArgs, '--out', path.join(tmp, 'a.txt'), '--db', db,
                                    '--per-device', '3']);
  const rc1 = await first.exited;
  check(rc1.code === 0, 'a first collect stored history in the database');
  const stored = {};
  for (const l of first.lines) if (readingDevice(l)) stored[readingDevice(l)] = (stored[readingDevice(l)] || 0) + 1;

  const collect = new Concur(binary, ['collect', ...devArgs, '--out', path.join(tmp, 'b.txt'), '--db', db,
                                      '--web', '0', '--offline-after', '1.5']);
  const webPort = portOf(await collect.waitLine(/^listening on .* \(http, web\)/));
  const arrivals = {Device1: [], Device2: []};  // when each live reading reached the collector's stdout
  const seen = collect.lines.length;
  collect.lines.slice(0, seen).forEach((l) => { const d = readingDevice(l); if (d) arrivals[d].push(Date.now()); });
  collect.waiters.push((l) => { const d = readingDevice(l); if (d) arrivals[d].push(Date.now()); return false; });

  const browser = await launchBrowser();
  const page = await browser.newPage({viewport: {width: 1280, height: 720}});
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${webPort}/`);
  await page.waitForSelector('#status[data-state="open"]');
  const hasUplot = await page.evaluate(() => typeof window.uPlot === 'function');
  check(hasUplot, 'uPlot is compiled into the binary (if not: scripts/setup.sh runs npm ci in web/, then configure again)');
  const counts = () => page.$$eval('.device', (cs) => Object.fromEntries(cs.map((c) => [c.dataset.device, Number(c.dataset.points)])));

  // Every live reading must show within 2 s: poll the page and match the k-th point to the k-th arrival.
  // Points already there at the first look came with the history the page started with; only
  // readings that arrive after it are timed.
  const shown = {Device1: [], Device2: []};
  const t0 = Date.now();
  const atOpen = await counts();
  const from = {};
  for (const d of Object.keys(shown)) {
    from[d] = (atOpen[d] || 0) - (stored[d] || 0);
    while (shown[d].length < from[d]) shown[d].push(null);
  }
  while (Date.now() - t0 < 4000) {
    const c = await counts();
    const now = Date.now();
    for (const d of Object.keys(shown)) {
      const live = (c[d] || 0) - (stored[d] || 0);
      while (shown[d].length < live) shown[d].push(now);
    }
    await sleep(40);
  }
  for (const d of Object.keys(shown)) {
    const n = Math.min(arrivals[d].length - 1, shown[d].length);  // the last arrival may still be on its way
    check(n - from[d] >= 5, `${d}: ${n - from[d]} readings timed from arrival to chart`);
    let worst = 0;
    for (let k = from[d]; k < n; k++) worst = Math.max(worst, shown[d][k] - arrivals[d][k]);
    check(worst <= 2000, `${d}: every reading was a point on the chart within 2 s (worst ${worst} ms)`);
  }
  const c = await counts();
  check((c.Device1 || 0) >= (stored.Device1 || 0) + 5 && stored.Device1 >= 3,
        `the chart started with the ${stored.Device1} stored readings of Device1 (now ${c.Device1} points)`);
  const states = await page.$$eval('.device', (cs) => cs.map((x) => x.dataset.state));
  check(states.length === 2 && states.every((s) => s === 'online'), 'both devices online');
  const canvases = await page.$$eval('.device canvas', (cs) => cs.length);
  check(canvases === 2, 'one uPlot chart (canvas) per device');

  const json = await (await fetch(`http://127.0.0.1:${webPort}/readings.json?device=Device2&since=0`)).json();
  check(Array.isArray(json) && json.length >= 3 && json.every((r) => r.device === 'Device2' && 'Heartbeat' in r),
        `/readings.json answers a JSON array (${json.length} readings of Device2)`);
  const later = await (await fetch(`http://127.0.0.1:${webPort}/readings.json?device=Device2&since=${json.at(-1).time}`)).json();
  check(later.every((r) => r.time > json.at(-1).time), '/readings.json since= pages forward');

  await page.screenshot({path: path.join(dir, 'dashboard.png')});
  check(true, `screenshot ${path.join(dir, 'dashboard.png')}`);

  await env.stop();
  await page.waitForSelector('.device[data-device="Device1"][data-state="offline"]', {timeout: 5000});
  const h = await page.$eval('.device[data-device="Device2"]', (x) => x.dataset.state);
  check(h === 'online', 'a device that stops is shown offline, the other stays online');
  check(errors.length === 0, `no script errors on the page ${errors.join('; ')}`);

  await browser.close();
  const rc = await collect.stop();
  check(rc.code === 0, 'collect stops cleanly on SIGTERM');
  await health.stop();
  rmSync(tmp, {recursive: true, force: true});
});
