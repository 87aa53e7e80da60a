// A client still sending an oversized body when kakehashi serve refuses it (413), for
// tests/serve_test.sh: the refusal must reach it, and the connection must not be reset under it.
// Over TLS (Node's tls, nothing from npm), as Bach Mai: the header announces 1 MB, 96 KB are
// sent at once (over limits.body_bytes, 64 KB in the test), the 413 is awaited, then 256 KB more
// are sent after a pause in which a server that closed at once would have closed. A server that
// closes with the client's bytes unread makes the kernel answer them with a reset (ECONNRESET or
// EPIPE here; curl sees "Failed sending data" and, now and then, loses the response). The server
// is expected to read and drop them until the client closes, and only then close in turn (a
// close_notify before then makes a client such as curl fail its next write, "Failed sending data",
// before it has read the response). Prints one JSON line: {"status", "reset", "closed_early",
// "ended"}; exits 1 unless status 413, no reset, not closed early, and ended.
//
// Usage: node serve_oversized.mjs PORT CERT_DIR
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const [port, dir] = process.argv.slice(2);
const socket = tls.connect({
  host: '127.0.0.1',
  port: Number(port),
  ca: readFileSync(`${dir}/ca.pem`),
  cert: readFileSync(`${dir}/bach-mai.pem`),
  key: readFileSync(`${dir}/bach-mai.key`),
  servername: 'localhost',
});
const result = { status: null, reset: null, closed_early: false, ended: false };
let sending = true;
let received = '';
const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const finish = () => {
  console.log(JSON.stringify(result));
  const ok = result.status === 413 && result.reset === null && !result.closed_early && result.ended;
  process.exit(ok ? 0 : 1);
};
socket.on('data', (chunk) => {
  received += chunk.toString('latin1');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
  if (m) result.status = Number(m[1]);
});
socket.on('error', (e) => { result.reset = e.code || String(e); finish(); });
socket.on('end', () => {
  result.ended = true;
  result.closed_early = sending;
  finish();
});
setTimeout(() => { result.reset = 'timeout'; finish(); }, 20000);

socket.on('secureConnect', async () => {
  socket.write('POST /Task HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\n'
    + 'X-Request-ID: req-oversized\r\nX-Actor-Role: coordinator\r\nContent-Length: 1048576\r\n\r\n');
  socket.write(Buffer.alloc(96 * 1024, 'x'));
  for (let i = 0; i < 100 && result.status === null; ++i) await pause(50);
  await pause(300);
  for (let i = 0; i < 4 && result.reset === null; ++i) {
    socket.write(Buffer.alloc(64 * 1024, 'x'));
    await pause(50);
  }
  sending = false;
  socket.end();  // the client is done: close_notify, then FIN; the server closes in turn
});
