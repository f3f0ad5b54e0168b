// Shared pieces of the browser tests: the real concur binary, loopback TCP clients, and headless
// Chromium (Debian's /usr/bin/chromium) driven by playwright-core from web/node_modules.
// Nothing here skips: if Chromium or playwright-core is missing, the test fails and says why.
import {spawn} from 'node:child_process';
import {createRequire} from 'node:module';
import {mkdirSync} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '../../web');

export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
  console.log(`ok: ${msg}`);
}

// `extraArgs`: more Chromium flags (the wss test trusts its certificate with one).
export async function launchBrowser(extraArgs = []) {
  let chromium;
  try {
    ({chromium} = createRequire(path.join(webDir, 'package.json'))('playwright-core'));
  } catch (e) {
    fail(`playwright-core is not installed in ${webDir} (run scripts/setup.sh, which runs npm ci there): ${e.message}`);
  }
  const executablePath = process.env.CONCUR_CHROMIUM || '/usr/bin/chromium';
  try {
    // Without the background-networking flags Chromium keeps trying to reach Google's hosts, which
    // this sandbox refuses; --no-sandbox because CI runs as root.
    return await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...extraArgs],
    });
  } catch (e) {
    fail(`Chromium (${executablePath}) did not start: ${e.message}`);
  }
}

// Every concur process a test started is stopped, by its PID, when the test process exits for
// any reason (a failed check calls process.exit and would otherwise leave servers behind).
const started = new Set();
process.on('exit', () => {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) {
      try { p.kill('SIGTERM'); } catch {}
    }
  }
});

// A concur process; its stdout lines are kept so tests can wait for log lines.
export class Concur {
  constructor(binary, args) {
    this.lines = [];
    this.waiters = [];
    this.proc = spawn(binary, args, {stdio: ['ignore', 'pipe', 'pipe']});
    started.add(this.proc);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({code, signal})));
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => !w(line));
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => process.stderr.write(`[concur stderr] ${d}`));
  }

  // Resolves with the first line (seen or future) matching `re`.
  waitLine(re, ms = 5000, what = String(re)) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      this.waiters.push((line) => {
        if (!re.test(line)) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      });
    });
  }

  async ports() {
    const tcp = await this.waitLine(/^listening on .* \((tcp|udp), /);
    const web = await this.waitLine(/^listening on .* \(https?, web\)/);
    const port = (l) => Number(/:(\d+) \(/.exec(l)[1]);
    return {tcp: port(tcp), web: port(web)};
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }
}

// A line client of chat-server over TCP.
export class TcpMember {
  constructor(port) {
    this.lines = [];
    this.waiters = [];
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setEncoding('utf8');
    let buf = '';
    this.sock.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => !w(line));
      }
    });
    this.sock.on('error', () => {});
  }
  send(line) { this.sock.write(line + '\n'); }
  waitLine(want, ms = 5000) {
    if (this.lines.includes(want)) return Promise.resolve(want);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TCP member: timed out waiting for ${JSON.stringify(want.slice(0, 80))}`)), ms);
      this.waiters.push((line) => {
        if (line !== want) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      });
    });
  }
  close() { this.sock.destroy(); }
}

export function outDir(base) {
  mkdirSync(base, {recursive: true});
  return base;
}

export async function main(fn) {
  const guard = setTimeout(() => fail('the whole test took longer than 100 s'), 100000);
  try {
    await fn();
    clearTimeout(guard);
    console.log('PASS');
    process.exit(0);
  } catch (e) {
    fail(e.stack || String(e));
  }
}
