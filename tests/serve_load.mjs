// A bounded load on kakehashi serve, for tests/serve_test.sh: CONCURRENCY clients on 127.0.0.1
// (Node's https, keep-alive, nothing from npm) run REFERRALS referrals through their whole
// lifecycle, Bach Mai proposing and recording the consent, Shonan Kamakura accepting,
// transferring and completing, each hospital with its own client certificate. A request that
// gets no answer (the service was killed) or a 503 is sent again with the same X-Request-ID,
// as the API asks, until it is answered, for at most 60 seconds. Any other answer than the
// expected one is an error. Prints one JSON line: {"referrals", "requests", "retries", "errors"}.
//
// PORT_FILE holds one port, or several separated by spaces (services sharing one database): the
// attempts go to each in turn, so one referral's requests, and the retries of one request, are
// answered by different processes.
//
// Referral PREFIX-i is patient P-PREFIX-i's, on a copy of CONSENT_PARAMS's consent record made
// out to that patient (consent C-PREFIX-i).
//
// Usage: node serve_load.mjs PORT_FILE CERT_DIR CONSENT_PARAMS PREFIX REFERRALS CONCURRENCY
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [portFile, dir, consentFile, prefix, total, concurrency] = process.argv.slice(2);
// Each referral is its own patient's (a second open referral for the same patient, specialty and
// destination is refused), with that patient's copy of the consent.
const consentParams = JSON.parse(readFileSync(consentFile, 'utf8'));
function consentFor(patient, consentId) {
  const params = structuredClone(consentParams);
  const param = params.parameter.find((p) => p.name === 'consent-record');
  const record = JSON.parse(param.valueString);
  record.id = consentId;
  record.patient.ref = patient;
  for (const g of record.grantors) if (g.role === 'patient') g.person = patient;
  param.valueString = JSON.stringify(record);
  return JSON.stringify(params);
}
const agent = (who) => new https.Agent({
  keepAlive: true,
  ca: readFileSync(`${dir}/ca.pem`),
  cert: readFileSync(`${dir}/${who}.pem`),
  key: readFileSync(`${dir}/${who}.key`),
});
const agents = { 'bach-mai': agent('bach-mai'), 'shonan-kamakura': agent('shonan-kamakura') };
let requests = 0;
let retries = 0;
let errors = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let attempts = 0;
function once(who, method, path, headers, body) {
  // The port is read again on every attempt: a restarted service listens on a new one.
  const ports = readFileSync(portFile, 'utf8').trim().split(/\s+/).map(Number);
  const port = ports[attempts++ % ports.length];
  return new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path, agent: agents[who],
      headers: { 'Content-Type': 'application/fhir+json', ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', () => resolve({ status: 0 }));
    req.setTimeout(10000, () => req.destroy());
    if (body) req.write(body);
    req.end();
  });
}

async function call(who, method, path, headers, body, expected) {
  const deadline = Date.now() + 60000;
  for (;;) {
    requests++;
    const res = await once(who, method, path, headers, body);
    if (res.status === expected) return res;
    if ((res.status === 0 || res.status === 503) && Date.now() < deadline) {
      retries++;
      await sleep(100);
      continue;
    }
    errors++;
    console.error(`${method} ${path}: ${res.status} ${res.text ?? ''}`.slice(0, 400));
    return null;
  }
}

async function lifecycle(i) {
  const id = `${prefix}-${i}`;
  const task = JSON.stringify({
    resourceType: 'Task', status: 'requested', intent: 'order',
    identifier: [{ system: 'urn:kakehashi:referral', value: id }],
    requester: { identifier: { system: 'urn:kakehashi:hospital', value: 'bach-mai' } },
    owner: { identifier: { system: 'urn:kakehashi:hospital', value: 'shonan-kamakura' } },
    for: { identifier: { system: 'urn:kakehashi:patient', value: `P-${id}` } },
    input: [{
      type: { coding: [{ system: 'urn:kakehashi:task-input', code: 'specialty' }] },
      valueCodeableConcept: { coding: [{ system: 'urn:kakehashi:specialty', code: 'cardiology' }] },
    }],
  });
  const consent = consentFor(`P-${id}`, `C-${id}`);
  const as = (role, key) => ({ 'X-Actor-Role': role, 'X-Request-ID': `${id}:${key}` });
  const created = await call('bach-mai', 'POST', '/Task', as('coordinator', 'propose'), task, 201);
  if (!created) return;
  const path = `/${created.headers.location}`;
  for (const [who, op, role, body] of [
    ['bach-mai', 'record-consent', 'coordinator', consent],
    ['shonan-kamakura', 'accept', 'clinician', null],
    ['shonan-kamakura', 'transfer', 'coordinator', consent],
    ['shonan-kamakura', 'complete', 'clinician', null],
  ]) {
    if (!await call(who, 'POST', `${path}/$${op}`, as(role, op), body, 200)) return;
  }
}

let next = 0;
async function worker() {
  while (next < Number(total)) await lifecycle(next++);
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
for (const a of Object.values(agents)) a.destroy();
console.log(JSON.stringify({ referrals: Number(total), requests, retries, errors }));
process.exit(errors === 0 ? 0 : 1);
