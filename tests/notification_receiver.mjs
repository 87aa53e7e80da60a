// A partner hospital's notification endpoint, for tests/serve_test.sh: an HTTPS server on
// 127.0.0.1 (Node's own https module, nothing from npm) that requires a client certificate
// signed by the given CA, answers 500 to the first FAILS notifications (a partner that is down),
// then 200, and appends one line per event it acknowledged to LOG:
//   <event number> <focus reference> <events-since-subscription-start>
// and the host's signed checkpoint of each notification, if it carries one, to LOG.checkpoints,
// and the client port of every request's connection to LOG.connections.
// It writes the port it listens on to PORT_FILE: PORT, or one the system chose (0, the default).
//
// Usage: node notification_receiver.mjs CERT KEY CA PORT_FILE LOG FAILS [PORT]
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';

const [cert, key, ca, portFile, log, failsText, portText] = process.argv.slice(2);
let fails = Number(failsText);

const server = https.createServer(
  {
    cert: readFileSync(cert),
    key: readFileSync(key),
    ca: readFileSync(ca),
    requestCert: true,
    rejectUnauthorized: true,
  },
  (req, res) => {
    // The connection each request came on (its client port), to see the sender reuse one.
    appendFileSync(`${log}.connections`, `${req.socket.remotePort}\n`);
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      if (fails > 0) {
        fails--;
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('down for a while\n');
        return;
      }
      try {
        const bundle = JSON.parse(body);
        const status = bundle.entry[0].resource;
        let since = '';
        const lines = [];
        for (const p of status.parameter) {
          if (p.name === 'events-since-subscription-start') since = p.valueString;
          if (p.name === 'checkpoint') appendFileSync(`${log}.checkpoints`, `${p.valueString}\n`);
          if (p.name !== 'notification-event') continue;
          const number = p.part.find((x) => x.name === 'event-number').valueString;
          const focus = p.part.find((x) => x.name === 'focus').valueReference.reference;
          lines.push(`${number} ${focus}`);
        }
        if (lines.length > 0) appendFileSync(log, lines.map((l) => `${l} ${since}\n`).join(''));
        res.writeHead(200, { 'Content-Type': 'application/fhir+json' }).end('{}');
      } catch (e) {
        res.writeHead(400).end(String(e));
      }
    });
  },
);
server.listen(Number(portText ?? 0), '127.0.0.1', () => writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
