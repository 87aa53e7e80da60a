// A FHIR client no one here wrote, driving kakehashi serve: @medplum/core's MedplumClient (pinned
// by package-lock.json) as two hospitals' systems, each with its own client certificate (a fetch
// over Node's https module, which is how a client presents a certificate). One referral through
// its whole lifecycle with the client's own create, search, read and operation calls; a refusal
// arrives as the client's OperationOutcome error. Prints "ok" and exits 0, or says what failed.
//
// Usage: node serve_client.mjs PORT CERT_DIR CONSENT_PARAMS   (from where npm ci installed it)
import { MedplumClient, OperationOutcomeError } from '@medplum/core';
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [port, dir, consentFile] = process.argv.slice(2);

// fetch() over https with a client certificate: what MedplumClient calls for every request.
function fetchAs(who) {
  const agent = new https.Agent({
    ca: readFileSync(`${dir}/ca.pem`),
    cert: readFileSync(`${dir}/${who}.pem`),
    key: readFileSync(`${dir}/${who}.key`),
  });
  return (url, init = {}) => new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = https.request({
      method: init.method ?? 'GET', host: u.hostname, port: u.port, path: u.pathname + u.search,
      headers: Object.fromEntries(new Headers(init.headers ?? {})), agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) headers.set(k, String(v));
        resolve(new Response(body.length > 0 ? body : null, { status: res.statusCode, headers }));
      });
    });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}

const client = (who) => new MedplumClient({
  baseUrl: `https://127.0.0.1:${port}/`, fhirUrlPath: '', fetch: fetchAs(who),
});
const bachMai = client('bach-mai');
const shonan = client('shonan-kamakura');
const headers = (role, id) => ({ headers: { 'X-Actor-Role': role, 'X-Request-ID': id } });
const check = (ok, what) => {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
};

const created = await bachMai.createResource({
  resourceType: 'Task', status: 'requested', intent: 'order',
  identifier: [{ system: 'urn:kakehashi:referral', value: 'FK-1' }],
  requester: { identifier: { system: 'urn:kakehashi:hospital', value: 'bach-mai' } },
  owner: { identifier: { system: 'urn:kakehashi:hospital', value: 'shonan-kamakura' } },
  for: { identifier: { system: 'urn:kakehashi:patient', value: 'P-3f9c1a' } },
  input: [{
    type: { coding: [{ system: 'urn:kakehashi:task-input', code: 'specialty' }] },
    valueCodeableConcept: { coding: [{ system: 'urn:kakehashi:specialty', code: 'oncology' }] },
  }],
}, headers('coordinator', 'fk-propose'));
check(created.status === 'requested', `create: status ${created.status}`);

const found = await shonan.searchResources('Task', { identifier: 'urn:kakehashi:referral|FK-1' });
check(found.length === 1 && found[0].id === created.id, `search: ${found.length} Task(s)`);
const read = await shonan.readResource('Task', created.id);
check(read.owner.identifier.value === 'shonan-kamakura', 'read: owner');

const operation = (as, op, role, body) =>
  as.post(as.fhirUrl('Task', created.id, `$${op}`), body ?? { resourceType: 'Parameters' },
    'application/fhir+json', headers(role, `fk-${op}-${role}`));
const consent = JSON.parse(readFileSync(consentFile, 'utf8'));
check((await operation(bachMai, 'record-consent', 'coordinator', consent)).businessStatus.coding[0].code === 'consent-recorded',
  '$record-consent');
try {
  await operation(shonan, 'accept', 'coordinator');
  check(false, '$accept by a coordinator was not refused');
} catch (e) {
  check(e instanceof OperationOutcomeError &&
        e.outcome.issue[0].diagnostics.startsWith('[kakehashi.permission_denied]'),
  `$accept by a coordinator: ${e}`);
}
check((await operation(shonan, 'accept', 'clinician')).status === 'accepted', '$accept');
check((await operation(shonan, 'transfer', 'coordinator', consent)).status === 'in-progress',
  '$transfer');
check((await operation(shonan, 'complete', 'clinician')).status === 'completed', '$complete');
const everything = await bachMai.get(bachMai.fhirUrl('Task', created.id, '$everything'));
check(everything.resourceType === 'Bundle' && everything.entry.length > 5, '$everything');
console.log('ok: MedplumClient ran FK-1 through its lifecycle');
