/** A throwaway etcd server or three-node cluster for the tests (see common.ts for the shared machinery). */
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type DbServer, type EtcdCluster, ETCD_READY_TIMEOUT_MS, PEER_DETECT_TIMEOUT_MS, PROBE_TIMEOUT_MS, PORT_ATTEMPTS, findProgram, requireAvailable, freePorts, makeServerDir, removeServerDir, logSize, noop, sleep, wrap, ManagedProcess, portTaken, servers, processesOf, destroyer } from './common.js';

// ---------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------

/** GET `path` from an etcd member's client port: status and body. */
function etcdGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves when the member's /health says {"health":"true"} (etcd 3.4 reads through raft for it: a leader is known). */
async function etcdHealth(port: number): Promise<void> {
  const { status, body } = await etcdGet(port, '/health');
  let health: unknown;
  try {
    health = (JSON.parse(body) as { health?: unknown }).health;
  } catch {
    // not JSON: reported below
  }
  if (health !== 'true' && health !== true) throw new Error(`/health answered ${status}: ${body.trim()}`);
}

/** From a member's /metrics: whether it is the leader, and how many peers its transport considers active. */
async function etcdRaftView(port: number): Promise<{ leader: boolean; activePeers: number }> {
  const { body } = await etcdGet(port, '/metrics');
  let activePeers = 0;
  for (const match of body.matchAll(/^etcd_network_active_peers\{[^}]*\} (\S+)$/gm)) activePeers += Number(match[1]);
  return { leader: /^etcd_server_is_leader 1$/m.test(body), activePeers };
}

/**
 * Starts etcd: one node, or a three-node cluster (all members started at
 * once with a shared `--initial-cluster` and a unique cluster token). Resolves
 * when every member's `/health` says true.
 */
export async function startEtcd(options: { nodes?: 1 | 3 } = {}): Promise<EtcdCluster> {
  requireAvailable('etcd');
  const etcd = findProgram(['etcd']);
  if (etcd === undefined) throw new Error('etcd binary disappeared');
  const count = options.nodes ?? 1;
  const dir = await makeServerDir('etcd');
  const token = `ticket-test-${randomBytes(8).toString('hex')}`;
  const names = Array.from({ length: count }, (_, i) => `n${i}`);
  let clientPorts: number[] = [];
  let peerPorts: number[] = [];
  const initialCluster = (): string => names.map((name, i) => `${name}=http://127.0.0.1:${peerPorts[i]}`).join(',');

  const procs = names.map((name, i) => {
    const logFile = join(dir, `${name}.log`);
    return new ManagedProcess({
      get name() {
        return `etcd member ${name} on 127.0.0.1:${clientPorts[i]}`;
      },
      logFile,
      cwd: dir,
      command: () =>
        wrap({
          file: etcd,
          args: [
            '--name', name,
            '--data-dir', join(dir, name),
            '--listen-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
            '--advertise-client-urls', `http://127.0.0.1:${clientPorts[i]}`,
            '--listen-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
            '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
            '--initial-cluster', initialCluster(),
            '--initial-cluster-state', 'new',
            '--initial-cluster-token', token,
            '--logger', 'zap',
          ],
        }),
      stopSignal: 'SIGTERM',
      killChildren: false,
      readyTimeoutMs: ETCD_READY_TIMEOUT_MS,
      probe: () => etcdHealth(clientPorts[i] ?? 0),
    });
  });

  /** Starts every member at once (a new cluster needs a quorum before any is healthy); on failure kills them all. */
  const startAll = async (): Promise<void> => {
    const results = await Promise.allSettled(procs.map((proc) => proc.start()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(procs.map((proc) => proc.kill()));
      throw failed.reason;
    }
  };
  /**
   * Followers first, the leader last, once it has noticed they are gone. On
   * SIGTERM an etcd leader hands leadership to the peer its transport thinks
   * connected longest; a peer that just closed its connection cleanly still
   * counts as connected until a write to it fails, and a hand-over to it
   * waits out the request timeout (~7 s) before the leader exits.
   */
  const stopAll = async (): Promise<void> => {
    let leader: number | undefined;
    if (procs.filter((proc) => proc.isRunning()).length > 1) {
      const views = await Promise.all(
        procs.map((proc, i) => (proc.isRunning() ? etcdRaftView(clientPorts[i] ?? 0).catch(() => undefined) : Promise.resolve(undefined))),
      );
      const index = views.findIndex((view) => view?.leader === true);
      if (index >= 0) leader = index;
    }
    await Promise.all(procs.filter((_, i) => i !== leader).map((proc) => proc.stop()));
    if (leader === undefined) return;
    const leaderPort = clientPorts[leader] ?? 0;
    const deadline = Date.now() + PEER_DETECT_TIMEOUT_MS;
    for (let attempt = 0; attempt < PEER_DETECT_TIMEOUT_MS / 50 && Date.now() < deadline; attempt++) {
      const view = await etcdRaftView(leaderPort).catch(() => undefined);
      if (view === undefined || view.activePeers === 0) break;
      await sleep(50);
    }
    await procs[leader]?.stop();
  };

  try {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(2 * count);
      clientPorts = ports.filter((_, i) => i % 2 === 0);
      peerPorts = ports.filter((_, i) => i % 2 === 1);
      const offsets = procs.map((proc) => logSize(proc.logFile));
      try {
        await startAll();
        break;
      } catch (error) {
        const taken = procs.some((proc, i) => portTaken(proc.logFile, offsets[i] ?? 0));
        if (attempt >= PORT_ATTEMPTS || !taken) throw error;
        // a half-bootstrapped cluster cannot change its ports: start over with empty data dirs
        await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
      }
    }
  } catch (error) {
    await Promise.all(procs.map((proc) => proc.kill().catch(noop)));
    await removeServerDir(dir);
    throw error;
  }

  const members: DbServer[] = procs.map((proc, i) => ({
    kind: 'etcd' as const,
    uri: `etcd://127.0.0.1:${clientPorts[i]}`,
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    start: () => proc.start(),
    destroy: () => proc.stop(),
  }));
  members.forEach((member, i) => processesOf.set(member, [procs[i] as ManagedProcess]));
  const cluster: EtcdCluster = {
    kind: 'etcd',
    uri: `etcd://${clientPorts.map((port) => `127.0.0.1:${port}`).join(',')}`,
    members,
    stop: stopAll,
    kill: async () => {
      await Promise.all(procs.map((proc) => proc.kill()));
    },
    start: startAll,
    destroy: destroyer(dir, stopAll, () => cluster),
  };
  servers.add(cluster);
  processesOf.set(cluster, procs);
  return cluster;
}
