// chat-server --web in headless Chromium (issue 15): two browser members and one TCP member chat
// both ways, the XSS string stays text, a browser that stops reading is dropped while the others
// go on, and the page reconnects by itself after a server restart.
// Usage: node chat_test.mjs CONCUR_BINARY OUT_DIR   (screenshots go to OUT_DIR)
import path from 'node:path';
import {Concur, TcpMember, check, launchBrowser, main, outDir} from './harness.mjs';

const [binary, out] = process.argv.slice(2);
const XSS = '<img src=x onerror=alert(1)>';
const MAX_QUEUE = 256 * 1024;

// The texts of the lines on a page from `from`.
const linesFrom = (page, from) =>
  page.$$eval(`#log li[data-from="${from}"] .text`, (els) => els.map((e) => e.textContent));

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
  const server = new Concur(binary, ['chat-server', '--port', '0', '--web', '0', '--rate', '0',
                                     '--max-queue', String(MAX_QUEUE)]);
  const {tcp: tcpPort, web: webPort} = await server.ports();
  const base = `http://127.0.0.1:${webPort}`;

  const tcp = new TcpMember(tcpPort);
  tcp.send('[tcp]');
  await server.waitLine(/\[tcp\]$/);

  const browser = await launchBrowser();
  const dialogs = [];
  const open = async (id) => {
    const page = await browser.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    await page.goto(`${base}/?id=${encodeURIComponent(id)}`);
    await page.waitForSelector('#status[data-state="open"]');
    await tcp.waitLine(`[${id}]`);  // the room relayed the join
    return page;
  };
  const alice = await open('alice');
  const bob = await open('bob');
  check(true, 'two browser members joined (the TCP member saw [alice] and [bob])');

  await say(alice, 'hello from alice');
  await tcp.waitLine('[alice]hello from alice');
  await waitText(bob, 'alice', 'hello from alice');
  check(true, 'browser -> TCP and browser -> browser');

  tcp.send('[tcp]hi browsers');
  await waitText(alice, 'tcp', 'hi browsers');
  await waitText(bob, 'tcp', 'hi browsers');
  check(true, 'TCP -> both browsers');

  const own = (await linesFrom(alice, 'alice')).filter((t) => t === 'hello from alice');
  check(own.length === 1, 'a message is never echoed to its sender (alice shows her line once)');

  await say(bob, XSS);
  await tcp.waitLine(`[bob]${XSS}`);
  await waitText(alice, 'bob', XSS);
  const imgs = await alice.$$eval('#log img', (els) => els.length);
  check(imgs === 0 && dialogs.length === 0, 'the XSS string is shown as text: no <img>, no alert');

  await say(alice, 'quit now');  // contains "quit", so it is relayed
  await tcp.waitLine('[alice]quit now');

  // An error line reaches the page: a message over 4096 bytes is refused and the member closed.
  const errPage = await browser.newPage();
  await errPage.goto(`${base}/?id=${encodeURIComponent('bob')}`);  // taken
  await errPage.waitForSelector('#log li.error');
  const errText = await errPage.$eval('#log li.error', (e) => e.textContent);
  check(/^error: ID .*taken/.test(errText), `a refused join shows the server's error line (${errText})`);
  await errPage.waitForSelector('#status[data-state="closed"]');
  await errPage.close();

  await alice.screenshot({path: path.join(dir, 'chat.png')});
  check(true, `screenshot ${path.join(dir, 'chat.png')}`);

  // A browser that stops reading: carol's page blocks its main thread, so Chromium stops taking
  // her socket's data; the room floods; the server drops her, alice and bob go on.
  const carol = await open('carol');
  await carol.evaluate(() => { setTimeout(() => { const end = Date.now() + 60000; while (Date.now() < end); }, 0); });
  await new Promise((r) => setTimeout(r, 300));
  const chunk = 'x'.repeat(4000);
  let dropped = null;
  server.waitLine(/exited \(disconnected: not reading/, 60000).then((l) => { dropped = l; }, () => {});
  // Paced at about 0.5 MB/s: a page that reads keeps up even on a loaded machine (at 1 MB/s a
  // page busy rendering while a sanitizer build ran beside it fell behind by --max-queue once,
  // and was dropped too), while the stalled one falls further behind.
  let sent = 0;
  const t0 = Date.now();
  for (; sent < 20000 && !dropped; sent++) {
    tcp.send(`[tcp]${sent} ${chunk}`);
    if (sent % 12 === 11) await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`flood: ${sent} messages of 4 KB in ${Date.now() - t0} ms until the drop`);
  await server.waitLine(/exited \(disconnected: not reading/, 20000, 'the stalled browser to be dropped');
  check(true, `the browser that stopped reading was dropped: ${dropped}`);
  tcp.send('[tcp]after the drop');
  await waitText(alice, 'tcp', 'after the drop', 30000);
  await waitText(bob, 'tcp', 'after the drop', 30000);
  await say(bob, 'still here');
  await tcp.waitLine('[bob]still here', 10000);
  const drops = server.lines.filter((l) => l.includes('not reading')).length;
  check(drops === 1, `the others go on after the drop (${drops} member dropped)`);
  await carol.close().catch(() => {});

  // Reconnects by itself: the server restarts on the same web port; alice's page joins again.
  await server.stop();
  await alice.waitForSelector('#status[data-state="reconnecting"]');
  const again = new Concur(binary, ['chat-server', '--port', '0', '--web', String(webPort)]);
  const p2 = await again.ports();
  const tcp2 = new TcpMember(p2.tcp);
  tcp2.send('[tcp2]');
  await again.waitLine(/\[tcp2\]$/);
  await tcp2.waitLine('[alice]', 15000);
  await alice.waitForSelector('#status[data-state="open"]');
  tcp2.send('[tcp2]welcome back');
  await waitText(alice, 'tcp2', 'welcome back');
  check(true, 'the page reconnected and rejoined after a server restart');

  tcp.close();
  tcp2.close();
  await browser.close();
  const rc = await again.stop();
  check(rc.code === 0, 'the server stops cleanly on SIGTERM');
});
