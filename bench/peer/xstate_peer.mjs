// The peer a team would otherwise write (../../shared/reference/performance.md 3(e)): the
// referral machine in XState 5 and a durable loop over better-sqlite3 that does what the engine
// does for a `cancel`: the machine's transition, a versioned UPDATE of the referral, the chain
// head, SHA-256 over the previous hash and the row's fields, and the audit row (its unique
// idempotency key and per-referral index, as the engine's schema has them), in one IMMEDIATE
// transaction per command at synchronous=FULL (WAL). With --workers N, N worker threads each
// open their own connection to the file (Node runs JavaScript on one thread per isolate; the
// driver is synchronous, so concurrency in one thread cannot group commits).
//
//   node xstate_peer.mjs [--commands 3000] [--workers 1] [--sync FULL|NORMAL]
// Prints one JSON line: {"workers":..,"commands":..,"seconds":..,"commands_per_second":..,
// "p50_ms":..,"p99_ms":..}; seconds run from the first worker's first command to the last
// worker's last (a worker's start-up is not counted).
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createActor, createMachine } from 'xstate';

const machine = createMachine({
  id: 'referral',
  initial: 'proposed',
  states: {
    proposed: { on: { RECORD_CONSENT: 'consent_recorded', CANCEL: 'closed', DECLINE: 'closed', EXPIRE: 'closed' } },
    consent_recorded: { on: { ACCEPT: 'accepted', CANCEL: 'closed', DECLINE: 'closed', WITHDRAW: 'closed', EXPIRE: 'closed' } },
    accepted: { on: { TRANSFER: 'transferred', CANCEL: 'closed', WITHDRAW: 'closed' } },
    transferred: { on: { COMPLETE: 'closed' } },
    closed: { type: 'final' },
  },
});

function open(path, sync) {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  return db;
}

function createSchema(db, n) {
  db.exec(`CREATE TABLE referral (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at INTEGER NOT NULL,
             version INTEGER NOT NULL) WITHOUT ROWID;
           CREATE TABLE audit (seq INTEGER PRIMARY KEY, referral_id TEXT NOT NULL, recorded_at TEXT NOT NULL,
             actor_org TEXT NOT NULL, actor_role TEXT NOT NULL, actor_user TEXT NOT NULL, command TEXT NOT NULL,
             state_before TEXT NOT NULL, state_after TEXT NOT NULL, outcome INTEGER NOT NULL,
             reason_code TEXT NOT NULL, details TEXT NOT NULL, idempotency_key TEXT NOT NULL,
             prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT);
           CREATE INDEX audit_referral ON audit(referral_id, seq);
           CREATE UNIQUE INDEX audit_key ON audit(idempotency_key);`);
  const ins = db.prepare("INSERT INTO referral VALUES (?, 'proposed', 0, 1)");
  db.transaction(() => { for (let i = 0; i < n; ++i) ins.run(`R-${i}`); })();
}

// Cancels referrals [from, to) one command per transaction; returns each command's latency (s).
function run(path, sync, from, to) {
  const db = open(path, sync);
  const get = db.prepare('SELECT state, version FROM referral WHERE id = ?');
  const update = db.prepare('UPDATE referral SET state = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?');
  const head = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare('INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)');
  const command = db.transaction((id, key, at) => {
    const row = get.get(id);
    const actor = createActor(machine, { snapshot: machine.resolveState({ value: row.state }) });
    actor.start();
    actor.send({ type: 'CANCEL' });
    const after = actor.getSnapshot().value;
    if (after === row.state) throw new Error(`refused: ${id}`);
    update.run(after, at, row.version + 1, id, row.version);
    const h = head.get() ?? { seq: 0, hash: '0'.repeat(64) };
    const fields = [id, '2026-03-01T00:00:00Z', 'bach-mai', 'coordinator', 'io-bm-1', 'cancel', row.state,
      `closed:cancelled`, '0', 'cancelled', '{"reason":"patient_request"}', key, h.hash];
    const hash = createHash('sha256');
    for (const f of fields) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64BE(BigInt(Buffer.byteLength(f)));
      hash.update(len);
      hash.update(f);
    }
    insert.run(h.seq + 1, ...fields.slice(0, 8), 0, fields[9], fields[10], key, h.hash, hash.digest('hex'));
  });
  const latencies = [];
  const start = performance.timeOrigin + performance.now();
  for (let i = from; i < to; ++i) {
    const start = process.hrtime.bigint();
    command.immediate(`R-${i}`, `c-${i}`, 1772323200 + i * 3600);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const end = performance.timeOrigin + performance.now();
  db.close();
  return { latencies, start, end };
}

if (!isMainThread) {
  const { path, sync, from, to } = workerData;
  parentPort.postMessage(run(path, sync, from, to));
} else {
  const arg = (name, fallback) => {
    const k = process.argv.indexOf(`--${name}`);
    return k > 0 ? process.argv[k + 1] : fallback;
  };
  const commands = Number(arg('commands', 3000));
  const workers = Number(arg('workers', 1));
  const sync = arg('sync', 'FULL');
  const dir = mkdtempSync(join(tmpdir(), 'kakehashi-peer-'));
  const path = join(dir, 'peer.db');
  const setup = open(path, sync);
  createSchema(setup, commands);
  setup.close();
  const per = Math.ceil(commands / workers);
  let parts;
  if (workers === 1) {
    parts = [run(path, sync, 0, commands)];
  } else {
    parts = await Promise.all(Array.from({ length: workers }, (_, w) => new Promise((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { path, sync, from: w * per, to: Math.min(commands, (w + 1) * per) },
      });
      worker.on('message', resolve);
      worker.on('error', reject);
    })));
  }
  const seconds = (Math.max(...parts.map((p) => p.end)) - Math.min(...parts.map((p) => p.start))) / 1e3;
  const latencies = parts.flatMap((p) => p.latencies);
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.floor(p * (latencies.length - 1))] * 1e3;
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ workers, commands, sync, seconds, commands_per_second: commands / seconds,
    p50_ms: at(0.5), p99_ms: at(0.99) }));
}
