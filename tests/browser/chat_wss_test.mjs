// chat-server --web over TLS in headless Chromium (issue 23): the page is served over https:// and
// joins over wss:// on the same --web port; a TCP member over TLS (Node's tls, an OpenSSL client
// that is not concur's) chats with it both ways. Chromium trusts the throw-away certificate only
// through --ignore-certificate-errors-spki-list (the SHA-256 of its public key, base64): a second
// server with another self-signed certificate is refused by the same browser, so the page loaded
// because that one key was trusted, not because certificate errors were ignored.
// Usage: node chat_wss_test.mjs CONCUR_BINARY OUT_DIR   (screenshot and certificates go to OUT_DIR)
import {execFileSync} from 'node:child_process';
import {X509Certificate, createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import {Concur, check, launchBrowser, main, outDir} from './harness.mjs';

const [binary, out] = process.argv.slice(2);

// A self-signed P-256 certificate for localhost and 127.0.0.1 (openssl, as the C++ tests make theirs).
function makeCert(dir, name) {
  const cert = path.join(dir, `${name}.crt`), key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                           '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
                           '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], {stdio: ['ignore', 'ignore', 'pipe']});
  const pem = readFileSync(cert, 'utf8');
  // What --ignore-certificate-errors-spki-list takes: base64 of SHA-256 over the DER SubjectPublicKeyInfo.
  const spki = new X509Certificate(pem).publicKey.export({type: 'spki', format: 'der'});
  return {cert, key, pem, spki: createHash('sha256').update(spki).digest('base64')};
}

// A line member of chat-server over TLS, checking the server's certificate against `ca`.
class TlsMember {
  constructor(port, ca) {
    this.lines = [];
    this.waiters = [];
    this.secure = new Promise((resolve, reject) => {
      this.sock = tls.connect({port, host: '127.0.0.1', ca, minVersion: 'TLSv1.2'}, () => resolve(this.sock));
      this.sock.once('error', reject);
    });
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
  }
  send(line) { this.sock.write(line + '\n'); }
  waitLine(want, ms = 5000) {
    if (this.lines.includes(want)) return Promise.resolve(want);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`TLS member: timed out waiting for ${JSON.stringify(want)}`)), ms);
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

async function waitText(page, from, text, ms = 5000) {
  await page.waitForFunction(
      ([f, t]) => [...document.querySelectorAll('#log li')].some(
          (li) => li.dataset.from === f && li.querySelector('.text').textContent === t && !li.classList.contains('mine')),
      [from, text], {timeout: ms});
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#say button');
}

main(async () => {
  const dir = outDir(out);
  const trusted = makeCert(dir, 'wss-trusted');
  const other = makeCert(dir, 'wss-other');
  const tlsArgs = (c) => ['--tls-cert', c.cert, '--tls-key', c.key];
  const server = new Concur(binary, ['chat-server', '--port', '0', '--bind', '127.0.0.1', '--web', '0', '--rate', '0',
                                     ...tlsArgs(trusted)]);
  const {tcp: tcpPort, web: webPort} = await server.ports();
  check(server.lines.some((l) => /\(https, web\)$/.test(l)), `the --web port serves https (${webPort})`);

  const member = new TlsMember(tcpPort, trusted.pem);
  await member.secure;
  check(member.sock.authorized, `a TLS member joined the chat port (${member.sock.getProtocol()}, certificate checked)`);
  member.send('[tcp]');
  await server.waitLine(/\[tcp\]$/);

  const browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${trusted.spki}`]);
  const page = await browser.newPage();
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`https://127.0.0.1:${webPort}/?id=alice`);
  await page.waitForSelector('#status[data-state="open"]');
  await member.waitLine('[alice]');
  check(sockets.length === 1 && sockets[0].startsWith(`wss://127.0.0.1:${webPort}/ws?`),
        `Chromium joined over ${sockets[0]} (the TLS member saw [alice])`);

  await say(page, 'hello over wss');
  await member.waitLine('[alice]hello over wss');
  check(true, 'browser (wss) -> TLS TCP member');
  member.send('[tcp]hello over tls');
  await waitText(page, 'tcp', 'hello over tls');
  check(true, 'TLS TCP member -> browser (wss)');
  await page.screenshot({path: path.join(dir, 'chat_wss.png')});
  check(true, `screenshot ${path.join(dir, 'chat_wss.png')}`);

  const big = 'y'.repeat(3000);  // a long line, through one TLS record each way and a WebSocket frame
  member.send(`[tcp]${big}`);
  await waitText(page, 'tcp', big);
  check(true, 'a 3000-byte message arrives whole');

  // The same browser refuses a certificate whose key it was not told to trust.
  const stranger = new Concur(binary, ['chat-server', '--port', '0', '--bind', '127.0.0.1', '--web', '0',
                                       ...tlsArgs(other)]);
  const {web: otherWeb} = await stranger.ports();
  const refused = await browser.newPage();
  let error = '';
  await refused.goto(`https://127.0.0.1:${otherWeb}/?id=eve`).catch((e) => { error = e.message; });
  check(/ERR_CERT/.test(error), `another self-signed certificate is refused (${(/net::\w+/.exec(error) || [error])[0]})`);
  await refused.close();
  await stranger.stop();

  member.close();
  await browser.close();
  const {code, signal} = await server.stop();
  check(code === 0 || signal === 'SIGTERM', `chat-server stopped cleanly (code ${code}, signal ${signal})`);
});
