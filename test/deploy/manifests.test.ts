/**
 * The stop timeouts and health checks in the compose file and the
 * Kubernetes manifests: every runtime waits longer than ticket-server's
 * graceful stop (--store-timeout + 5 s) before SIGKILL, and checks /healthz
 * (liveness) and /readyz (readiness) on the admin port. Text checks: no YAML
 * parser is a dependency of the project, and these files are ours.
 */
import { describe, expect, it } from 'vitest';
import { GRACEFUL_STOP_SECONDS, deployFile } from './deploy-files.js';

const KUBERNETES = ['kubernetes/statefulset.yaml', 'kubernetes/statefulset-etcd.yaml'];

describe.each(KUBERNETES)('%s', (file) => {
  const manifest = deployFile(file);

  it('has a Service, a headless Service and a StatefulSet that uses it', () => {
    expect(manifest.match(/^kind: Service$/gm)).toHaveLength(2);
    expect(manifest).toMatch(/^kind: StatefulSet$/m);
    expect(manifest).toMatch(/^\s+clusterIP: None$/m);
    expect(manifest).toMatch(/^\s+serviceName: ticket-server-headless$/m);
  });

  it('gives the graceful stop more time than it takes', () => {
    const grace = /^\s+terminationGracePeriodSeconds: (\d+)$/m.exec(manifest)?.[1];
    expect(Number(grace)).toBeGreaterThan(GRACEFUL_STOP_SECONDS);
  });

  it('probes liveness on /healthz and readiness on /readyz, on the admin port', () => {
    expect(manifest).toMatch(/livenessProbe:\n\s+httpGet: \{ path: \/healthz, port: admin \}/);
    expect(manifest).toMatch(/readinessProbe:\n\s+httpGet: \{ path: \/readyz, port: admin \}/);
    expect(manifest).toMatch(/\{ name: admin, containerPort: 6411 \}/);
  });

  it('runs unprivileged with /data mounted', () => {
    expect(manifest).toMatch(/runAsNonRoot: true/);
    expect(manifest).toMatch(/allowPrivilegeEscalation: false/);
    expect(manifest).toMatch(/\{ name: data, mountPath: \/data \}/);
  });
});

describe('kubernetes/statefulset.yaml (embedded stores)', () => {
  const manifest = deployFile('kubernetes/statefulset.yaml');

  it('takes the instance from the pod ordinal, with as many instances as replicas and a volume per pod', () => {
    expect(manifest).toMatch(/\{ name: TICKET_SERVER_INSTANCE_FROM_HOSTNAME, value: "1" \}/);
    const replicas = /^\s+replicas: (\d+)$/m.exec(manifest)?.[1];
    expect(manifest).toContain(`args: ["--instances", "${replicas}", "--data", "/data"`);
    expect(manifest).toMatch(/volumeClaimTemplates:\n\s+- metadata:\n\s+name: data/);
  });
});

describe('compose.yaml', () => {
  const compose = deployFile('compose.yaml');

  it('gives the graceful stop more time than it takes, and checks every server and etcd node', () => {
    const grace = /^\s+stop_grace_period: (\d+)s$/m.exec(compose)?.[1];
    expect(Number(grace)).toBeGreaterThan(GRACEFUL_STOP_SECONDS);
    expect(compose).toMatch(/test: \["CMD", "node", "\/app\/healthcheck\.mjs"\]/);
    expect(compose).toMatch(/test: \["CMD", "etcdctl", .*"endpoint", "health"\]/);
  });

  it('runs three servers, each advertising its own name, on a three-node etcd cluster', () => {
    for (const n of [1, 2, 3]) {
      expect(compose).toMatch(new RegExp(`^  tickets-${n}:\\n    <<: \\*tickets$`, 'm'));
      expect(compose).toContain(`- http://tickets-${n}:6412\n`);
      expect(compose).toContain(`- tcp://tickets-${n}:6410\n`);
      expect(compose).toMatch(new RegExp(`^  etcd-${n}:\\n    <<: \\*etcd$`, 'm'));
    }
    expect(compose.match(/- etcd:\/\/etcd-1:2379,etcd-2:2379,etcd-3:2379\/tickets$/gm)).toHaveLength(3);
  });
});
