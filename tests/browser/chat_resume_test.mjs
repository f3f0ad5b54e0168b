// A chat page reloaded mid-conversation shows what it missed, once, marked as replayed
// (issue 20: /ws?since=OFFSET&epoch=EPOCH, web/chat.js). The page leaves, a TCP member speaks,
// the page comes back in the same tab (sessionStorage keeps its last offset), and then a server
// restart is told to it as a gap rather than passed over.
// Usage: node chat_resume_test.mjs CONCUR_BINARY OUT_DIR
import path from 'node:path';
import {Concur, TcpMember, check, launchBrowser, main, outDir} from './harness.mjs';

const [binary, out] = process.argv.slice(2);

const lines = (page) => page.$$eval('#log li', (els) => els.map((li) => ({
  from: li.dataset.from || null,
  text: li.querySelector('.text').textContent,
  replayed: li.classList.contains('replayed'),
})));

async function waitText(page, from, text, ms = 5000) {
  await page.waitForFunction(
      ([f, t]) => [...document.querySelectorAll('#log li')].some(
          (li) => li.dataset.from === f && li.querySelector('.text').textContent === t),
      [from, text], {timeout: ms});
}

main(async () => {
  const dir = outDir(out);
  const server = new Concur(binary, ['chat-server', '--port', '0', '--web', '0', '--rate', '0']);
  const {tcp: tcpPort, web: webPort} = await server.ports();
  const url = `http://127.0.0.1:${webPort}/?id=alice`;
  const tcp = new TcpMember(tcpPort);
  tcp.send('[tcp]');
  await server.waitLine(/\[tcp\]$/);

  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('#status[data-state="open"]');
  await tcp.waitLine('[alice]');
  tcp.send('[tcp]before the reload');
  await waitText(page, 'tcp', 'before the reload');
  check(true, 'the page chats with a TCP member');

  await page.goto('about:blank');  // the page is gone; the room goes on
  await server.waitLine(/exited/);
  tcp.send('[tcp]missed one');
  tcp.send('[tcp]missed two');
  await server.waitLine(/\[tcp\]missed two$/);

  await page.goto(url);  // the same tab: sessionStorage has the last offset
  await page.waitForSelector('#status[data-state="open"]');
  await waitText(page, 'tcp', 'missed two');
  tcp.send('[tcp]live again');
  await waitText(page, 'tcp', 'live again');
  const got = (await lines(page)).filter((l) => l.from === 'tcp');
  check(JSON.stringify(got.map((l) => l.text)) === JSON.stringify(['missed one', 'missed two', 'live again']),
        `after the reload the page has what it missed, once, and live chat: ${JSON.stringify(got)}`);
  check(got[0].replayed && got[1].replayed && !got[2].replayed, 'the missed lines are marked replayed, the live one not');
  await page.screenshot({path: path.join(dir, 'chat_resume.png')});

  // Offsets of an earlier run are never taken for this run's: a restarted server tells a gap.
  await server.stop();
  const again = new Concur(binary, ['chat-server', '--port', '0', '--web', String(webPort), '--rate', '0']);
  await again.ports();
  await page.waitForFunction(() => [...document.querySelectorAll('#log li.error')].some(
      (li) => li.textContent === 'error: history gap: the server restarted'), null, {timeout: 15000});
  check(true, 'after a server restart the page is told its history is gone');
  await browser.close();
  tcp.close();
  const rc = await again.stop();
  check(rc.code === 0, 'the server stops cleanly on SIGTERM');
});
