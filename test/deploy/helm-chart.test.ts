// deploy/helm/termlab for real: `helm lint` and `helm template` with the project's own helm
// (var/cache/kube-bins/*/helm, built by scripts/build-kube-bins.sh), then the rendered manifests
// against a real cluster, the kubernetes profile's box (a single-node Kubernetes with RBAC and
// admission on): `kubectl apply --dry-run=server` of everything, then the RBAC and the admission
// policies applied for real and the gateway's ServiceAccount impersonated to show what it can and
// cannot do, and the backend's own session code run with that ServiceAccount's token. The cluster
// tests build on each other, in order (RBAC, then the policies, then the RuntimeClass variant).
// Needs what `npm test` prepares first: termlab's engine, the kubernetes image and its helm.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { createBox, removeLeftovers, type Box } from '../../server/sandbox/boxes.js';
import { ensureServerImage, SERVER_IMAGE } from '../helpers/server-image.js';
import { ensureEngine } from '../../server/sandbox/engine.js';
import { contextHash, ensureImages, IMAGE_REPO, imageExists } from '../../server/sandbox/images.js';
import { hostPod, namespaceName, type SessionSpec } from '../../server/sandbox/kubernetes/manifests.js';
import { deleteNamespace, ensureSession, instanceNamespaces, setQuota, type Apis } from '../../server/sandbox/kubernetes/session-namespace.js';
import { KUBERNETES_LIMITS, log, sh, shStatus, stateDir, uniqueInstance } from '../server/sandbox/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHART = path.join(ROOT, 'deploy/helm/termlab');
/** The box's Kubernetes; `helm template` checks the chart's kubeVersion against it (without a
 * cluster, the project's helm build would assume v1.20). */
const KUBE_VERSION = /^K8S_VERSION=v?(\S+)$/m.exec(readFileSync(path.join(ROOT, 'images/kubernetes/versions.env'), 'utf8'))![1]!;
const RELEASE = 'termlab';
const NS = 'termlab-system';
/** The chart's instance in these tests; session namespaces are then named tl-lab1-<session>. */
const INSTANCE = 'lab1';
const PREFIX = 'tl-lab1-';
const SA = `system:serviceaccount:${NS}:termlab`;
const CLUSTER_NAME = `${NS}-termlab`;

interface Manifest { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown }
interface Rule { apiGroups: string[]; resources: string[]; verbs: string[] }

/** The newest helm binary in the kube-bins cache. */
function helmBinary(): string {
  const dir = path.join(ROOT, 'var/cache/kube-bins');
  const found = (() => {
    try { return readdirSync(dir).map((d) => path.join(dir, d, 'helm')).filter((f) => { try { return statSync(f).isFile(); } catch { return false; } }); } catch { return []; }
  })().sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (found[0]) return found[0];
  // A checkout whose engine already had the kubernetes image never built the binaries here (CI on a
  // machine that ran the tests before): the image's own helm is the same build.
  const shellRef = `${IMAGE_REPO.shell}:${contextHash('shell')}`;
  const ref = `${IMAGE_REPO.kubernetes}:${contextHash('kubernetes', shellRef)}`;
  const id = spawnSync('docker', ['create', ref], { encoding: 'utf8' }).stdout.trim();
  if (!id) throw new Error(`no helm in ${dir}, and no image ${ref} to take it from: npm test prepares both (bash scripts/build-kube-bins.sh builds the binaries)`);
  const to = mkdtempSync(path.join(os.tmpdir(), 'tl-helm-'));
  after(() => rmSync(to, { recursive: true, force: true }));
  try {
    const cp = spawnSync('docker', ['cp', `${id}:/usr/local/bin/helm`, path.join(to, 'helm')], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`taking helm out of ${ref}: ${cp.stderr}`);
  } finally {
    spawnSync('docker', ['rm', id]);
  }
  return path.join(to, 'helm');
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const helm = helmBinary();
async function helmOk(args: string[]): Promise<string> {
  const r = await run(helm, args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}):\n${r.err}${r.out}`);
  return r.out;
}

/** Values of the second configuration the tests render: an existing Secret and an Ingress with TLS. */
const SECRET_AND_INGRESS = [
  '--set', 'database.existingSecret=termlab-db', '--set', 'gateway.replicas=2', '--set', 'ingress.enabled=true', '--set', 'ingress.className=nginx',
  '--set', 'ingress.hosts[0].host=labs.example.com', '--set', 'ingress.hosts[0].paths[0].path=/',
  '--set', 'ingress.hosts[0].paths[0].pathType=Prefix',
  '--set', 'ingress.tls[0].secretName=labs-tls', '--set', 'ingress.tls[0].hosts[0]=labs.example.com',
  '--set-string', 'ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/proxy-read-timeout=3600',
];
const TEST_VALUES = ['--set', `instance=${INSTANCE}`, '--set', 'namespacePrefix=tl-'];

async function render(extra: string[] = []): Promise<{ text: string; docs: Manifest[] }> {
  const text = await helmOk(['template', RELEASE, CHART, '-n', NS, '--kube-version', KUBE_VERSION, ...extra]);
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Manifest | null).filter((d): d is Manifest => !!d);
  return { text, docs };
}

function only(docs: Manifest[], kind: string, name?: string): Manifest {
  const found = docs.filter((d) => d.kind === kind && (!name || d.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''} (found ${found.length})`);
  return found[0]!;
}

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };
function gatewayContainer(docs: Manifest[]) {
  const dep = only(docs, 'Deployment') as unknown as { spec: { replicas: number; template: { spec: {
    serviceAccountName: string; securityContext: Record<string, unknown>;
    containers: Array<{ env: Env[]; securityContext: Record<string, unknown>; readinessProbe: { httpGet: { path: string; port: string; httpHeaders: Array<{ name: string; value: string }> } };
      livenessProbe: { httpGet: { path: string } }; resources: Record<string, unknown>; command: string[] }> } } } };
  return { dep, c: dep.spec.template.spec.containers[0]! };
}
const envOf = (c: { env: Env[] }, name: string) => c.env.find((e) => e.name === name);

describe('Helm chart deploy/helm/termlab', () => {
  test('helm lint --strict passes with default values and with an existing Secret and an Ingress', async () => {
    await helmOk(['lint', CHART, '--strict', '-n', NS]);
    await helmOk(['lint', CHART, '--strict', '-n', NS, ...SECRET_AND_INGRESS]);
  });

  test('helm template with default values: the gateway, its least-privilege RBAC, policies, Service, PDB', async () => {
    const { docs } = await render();
    const kinds = docs.map((d) => d.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'NetworkPolicy',
      'Service', 'ServiceAccount', ...Array(4).fill('ValidatingAdmissionPolicy'), ...Array(4).fill('ValidatingAdmissionPolicyBinding')],
    'no Secret, Ingress or PodDisruptionBudget (one replica) by default');
    const { dep, c } = gatewayContainer(docs);
    assert.equal(dep.spec.replicas, 1, 'one replica: several need the PostgreSQL store');
    assert.equal(dep.spec.template.spec.serviceAccountName, 'termlab');
    assert.equal(dep.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    // The server's health endpoint (server/http/app.ts), with a Host the server answers to.
    assert.equal(c.readinessProbe.httpGet.path, '/api/health');
    assert.equal(c.livenessProbe.httpGet.path, '/api/health');
    assert.deepEqual(c.readinessProbe.httpGet.httpHeaders, [{ name: 'Host', value: 'localhost' }]);
    assert.ok(c.resources.limits && c.resources.requests, 'resources');
    assert.equal(envOf(c, 'TERMLAB_BACKEND')?.value, 'kubernetes');
    assert.equal(envOf(c, 'HOST')?.value, '0.0.0.0');
    assert.equal(envOf(c, 'TERMLAB_INSTANCE')?.value, 'termlab');
    assert.equal(envOf(c, 'TERMLAB_KUBE_NAMESPACE_PREFIX')?.value, 'tl-');
    assert.equal(envOf(c, 'TERMLAB_DATABASE_URL'), undefined, 'no database configured by default');
    assert.ok(!c.env.some((e) => /DOCKER_SOCKET|DOCKER_HOST/.test(e.name)), 'nothing of the docker backend');
    // RBAC: no wildcard, no secrets, no RBAC objects.
    const rules = (only(docs, 'ClusterRole') as unknown as { rules: Rule[] }).rules;
    for (const r of rules) {
      for (const v of [...r.apiGroups, ...r.resources, ...r.verbs]) assert.ok(!v.includes('*'), `no wildcard in ${JSON.stringify(r)}`);
      assert.ok(!r.resources.some((x) => /secret|role|binding|configmap/.test(x)), `no secrets or RBAC objects: ${JSON.stringify(r)}`);
      assert.ok(!r.verbs.some((v) => ['escalate', 'bind', 'impersonate', 'patch', 'deletecollection'].includes(v)), `no ${r.verbs}`);
      // update: only the quota, which grows as a session's hosts start (server/sandbox/kubernetes/session-namespace.ts)
      if (r.verbs.includes('update')) assert.deepEqual(r.resources, ['resourcequotas']);
    }
    assert.deepEqual(rules.find((r) => r.resources.includes('namespaces'))?.verbs, ['create', 'delete', 'get', 'list', 'watch']);
  });

  test('helm template with an existing Secret and an Ingress: secret references, allowed host and origin', async () => {
    const { docs } = await render(SECRET_AND_INGRESS);
    assert.ok(!docs.some((d) => d.kind === 'Secret'), 'no Secret of its own with database.existingSecret');
    assert.equal((only(docs, 'Deployment') as unknown as { spec: { replicas: number } }).spec.replicas, 2);
    assert.equal((only(docs, 'PodDisruptionBudget') as unknown as { spec: { minAvailable: number } }).spec.minAvailable, 1);
    const { c } = gatewayContainer(docs);
    assert.deepEqual(envOf(c, 'TERMLAB_DATABASE_URL')?.valueFrom?.secretKeyRef, { name: 'termlab-db', key: 'database-url' });
    assert.deepEqual(envOf(c, 'TERMLAB_COMPLETION_SECRET')?.valueFrom?.secretKeyRef,
      { name: 'termlab-db', key: 'completion-secret', optional: true });
    assert.equal(envOf(c, 'TERMLAB_ALLOWED_HOSTS')?.value, 'labs.example.com');
    assert.equal(envOf(c, 'TERMLAB_ALLOWED_ORIGINS')?.value, 'https://labs.example.com');
    const ing = only(docs, 'Ingress') as unknown as { metadata: { annotations: Record<string, string> };
      spec: { ingressClassName: string; rules: Array<{ host: string; http: { paths: Array<{ backend: { service: { name: string } } }> } }> } };
    assert.equal(ing.spec.ingressClassName, 'nginx');
    assert.equal(ing.spec.rules[0]!.host, 'labs.example.com');
    assert.equal(ing.spec.rules[0]!.http.paths[0]!.backend.service.name, 'termlab');
    assert.equal(ing.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');

    // With the URL in values instead, the chart makes the Secret and the pod restarts when it changes.
    const own = await render(['--set', 'database.url=postgres://termlab:pw@pg:5432/termlab']);
    const secret = only(own.docs, 'Secret') as unknown as { stringData: Record<string, string> };
    assert.equal(secret.stringData['database-url'], 'postgres://termlab:pw@pg:5432/termlab');
    const { dep, c: c2 } = gatewayContainer(own.docs);
    assert.deepEqual(envOf(c2, 'TERMLAB_DATABASE_URL')?.valueFrom?.secretKeyRef, { name: 'termlab', key: 'database-url' });
    assert.match(JSON.stringify(dep), /checksum\/secret/);
  });

  test('helm template refuses values that would break the install, saying which', async () => {
    for (const [args, said] of [
      [['--set', 'instance=Bad_Name'], /instance "Bad_Name"/],
      [['--set', 'namespacePrefix=UP-'], /namespacePrefix/],
      [['--set', 'database.url=postgres://x', '--set', 'database.existingSecret=s'], /not both/],
      [['--set', 'secrets.completionSecret=short'], /32 characters/],
      [['--set', 'gateway.replicas=3'], /replicas above 1 needs the PostgreSQL store/],
    ] as const) {
      const r = await run(helm, ['template', RELEASE, CHART, '-n', NS, '--kube-version', KUBE_VERSION, ...args]);
      assert.notEqual(r.code, 0, `refused: ${args.join(' ')}`);
      assert.match(r.err, said);
    }
  });

  test("the gateway image runs under the chart's securityContext, and its probes' Host is one the server answers", async () => {
    // Built by test/deploy/compose.test.ts before this file; built here when this file runs alone.
    ensureServerImage();
    const image = SERVER_IMAGE;
    const { dep, c } = gatewayContainer((await render()).docs);
    const pod = dep.spec.template.spec.securityContext as { runAsUser: number; runAsGroup: number };
    const host = c.readinessProbe.httpGet.httpHeaders[0]!.value;
    // The server's own modules, as uid 65532 with a read-only root, no capabilities and the
    // chart's writable folders (/tmp, the state folder) only.
    const script = `
      const { loadConfig } = await import('/app/server/config.ts');
      const { HostCheck } = await import('/app/server/http/host-check.ts');
      const fs = await import('node:fs');
      const config = loadConfig({ HOST: '0.0.0.0', PORT: '8080', TERMLAB_STATE_DIR: '/tmp/state' });
      fs.mkdirSync(config.stateDir, { recursive: true }); fs.writeFileSync(config.stateDir + '/probe', 'x');
      let rootWritable = true; try { fs.writeFileSync('/app/probe', 'x'); } catch { rootWritable = false; }
      const hosts = new HostCheck(config);
      console.log(JSON.stringify({ uid: process.getuid(), rootWritable,
        probeHost: hosts.allows(${JSON.stringify(host)} + ':8080'), podIp: hosts.allows('10.244.0.7:8080') }));`;
    const r = await run('docker', ['run', '--rm', '--network', 'none', '--read-only', '--tmpfs', '/tmp:size=64m,mode=1777',
      '--user', `${pod.runAsUser}:${pod.runAsGroup}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '-e', 'HOME=/tmp', '-w', '/app', '--entrypoint', 'node', image, '--import', 'tsx', '--input-type=module', '-e', script]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out.trim().split('\n').pop()!), { uid: 65532, rootWritable: false, probeHost: true, podIp: false },
      'non-root works; a probe with the pod IP as Host would get 421, with the chart\'s Host it passes');
  });

  describe('on a real cluster (the kubernetes box)', () => {
    const boxInstance = uniqueInstance('helm');
    let docker: Docker | undefined;
    let box: Box;
    let docCounts: Record<string, number> = {};
    const kubectl = (script: string, ms = 30_000) => sh(docker!, box.id, script, ms);
    /** kubectl as the gateway's ServiceAccount (impersonated by the box's cluster-admin). */
    const asGateway = (args: string, ms = 30_000) => shStatus(docker!, box.id, `kubectl --as=${SA} ${args}`, ms);

    before(async () => {
      docker = await ensureEngine({ stateDir, log });
      // Any kubernetes image will do for a cluster: the one built last, else build the current one.
      let image = 'termlab/kubernetes:latest';
      if (!(await imageExists(docker, image))) image = (await ensureImages(docker, { log, stateDir, profiles: ['kubernetes'] })).kubernetes;
      const t = Date.now();
      box = await createBox(docker, { instance: boxInstance, session: 's1', profile: 'kubernetes', image, limits: KUBERNETES_LIMITS, internet: false });
      log(`kubernetes box ready in ${Date.now() - t} ms`);
      // The rendered manifests, copied in.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tl-helm-'));
      try {
        const defaults = await render(TEST_VALUES);
        const ingress = await render([...TEST_VALUES, ...SECRET_AND_INGRESS]);
        docCounts = { default: defaults.docs.length, ingress: ingress.docs.length };
        writeFileSync(path.join(dir, 'default.yaml'), defaults.text);
        writeFileSync(path.join(dir, 'ingress.yaml'), ingress.text);
        // The same objects in two parts: RBAC first, the admission policies after.
        const part = (kinds: string[]) => defaults.docs.filter((d) => kinds.includes(d.kind)).map((d) => `---\n${stringify(d)}`).join('');
        writeFileSync(path.join(dir, 'rbac.yaml'), part(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']));
        writeFileSync(path.join(dir, 'policy.yaml'), part(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']));
        // (into the box's own filesystem: the engine's archive API does not see its tmpfs mounts)
        const tar = spawnSync('tar', ['-c', '-C', dir, '--transform', 's,^\\.,chart,', '.'], { maxBuffer: 64 * 1024 * 1024 });
        assert.equal(tar.status, 0, String(tar.stderr));
        await docker.getContainer(box.id).putArchive(tar.stdout, { path: '/root' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await kubectl(`kubectl create namespace ${NS} >/dev/null`);
    });
    after(async () => { if (docker) await removeLeftovers(docker, boxInstance, () => {}); });

    test('kubectl apply --dry-run=server accepts every rendered object (defaults; existing Secret + Ingress)', async () => {
      for (const file of ['default', 'ingress']) {
        const out = await kubectl(`kubectl apply --dry-run=server -f /root/chart/${file}.yaml`);
        const created = out.split('\n').filter((l) => / created \(server dry run\)$/.test(l)).map((l) => l.split(' ')[0]).sort();
        assert.equal(created.length, docCounts[file], `${file}: every object accepted\n${out}`);
        for (const obj of ['serviceaccount/termlab', `clusterrole.rbac.authorization.k8s.io/${CLUSTER_NAME}`,
          `clusterrolebinding.rbac.authorization.k8s.io/${CLUSTER_NAME}`, 'deployment.apps/termlab', 'service/termlab',
          'networkpolicy.networking.k8s.io/termlab',
          `validatingadmissionpolicy.admissionregistration.k8s.io/${CLUSTER_NAME}-namespaces`,
          `validatingadmissionpolicybinding.admissionregistration.k8s.io/${CLUSTER_NAME}-in-sessions`,
          // Two replicas with the database of the existing Secret: a PodDisruptionBudget too.
          ...(file === 'ingress' ? ['ingress.networking.k8s.io/termlab', 'poddisruptionbudget.policy/termlab'] : [])]) {
          assert.ok(created.includes(obj), `${file}: ${obj} in\n${out}`);
        }
      }
      assert.equal(await kubectl(`kubectl get deployment -n ${NS} -o name`), '', 'a dry run creates nothing');
    });

    /** `kubectl auth can-i` as the gateway for each line "VERB RESOURCE [flags]"; answers yes/no per line. */
    async function canI(checks: string[]): Promise<Map<string, string>> {
      const script = checks.map((c) => `printf '%s\\t%s\\n' ${JSON.stringify(c)} "$(kubectl auth can-i --as=${SA} ${c} 2>/dev/null)"`).join('\n');
      const out = await kubectl(script, 60_000);
      return new Map(out.split('\n').map((l) => l.split('\t') as [string, string]));
    }

    const SESSION = `${PREFIX}rbac`;
    const NEEDED = [
      'create namespaces', 'delete namespaces', 'get namespaces', 'list namespaces', 'watch namespaces',
      ...['create', 'delete', 'get', 'list', 'watch'].map((v) => `${v} pods -n ${SESSION}`),
      `create pods --subresource=exec -n ${SESSION}`, `get pods --subresource=exec -n ${SESSION}`,
      `create pods --subresource=portforward -n ${SESSION}`, `get pods --subresource=portforward -n ${SESSION}`,
      ...['services', 'resourcequotas', 'limitranges', 'networkpolicies.networking.k8s.io'].flatMap((r) =>
        ['create', 'delete', 'get', 'list'].map((v) => `${v} ${r} -n ${SESSION}`)),
      `create serviceaccounts -n ${SESSION}`, `update resourcequotas -n ${SESSION}`,
    ];
    const REFUSED = [
      `get secrets -n ${SESSION}`, `list secrets -n ${SESSION}`, 'get secrets -n kube-system', 'list secrets --all-namespaces',
      `create secrets -n ${SESSION}`, 'create clusterrolebindings', 'create clusterroles', `create rolebindings -n ${SESSION}`,
      `create roles -n ${SESSION}`, 'bind clusterroles', 'escalate clusterroles', 'impersonate users', 'impersonate serviceaccounts',
      'update namespaces', 'patch namespaces', `update pods -n ${SESSION}`, `patch pods -n ${SESSION}`,
      `update services -n ${SESSION}`, `update limitranges -n ${SESSION}`, `update networkpolicies.networking.k8s.io -n ${SESSION}`,
      `update pods --subresource=ephemeralcontainers -n ${SESSION}`, `create pods --subresource=attach -n ${SESSION}`,
      `create serviceaccounts --subresource=token -n ${SESSION}`, `get configmaps -n ${SESSION}`,
      `create deployments.apps -n ${SESSION}`, `create daemonsets.apps -n ${SESSION}`, 'get nodes', 'get nodes --subresource=proxy',
      'create persistentvolumes', 'create validatingadmissionpolicies.admissionregistration.k8s.io',
      'delete validatingadmissionpolicybindings.admissionregistration.k8s.io', '"*" "*"',
    ];

    test('RBAC applied for real: the gateway can do each thing the backend needs and nothing it does not', async (t) => {
      // ServiceAccount, ClusterRole and binding only (the policies come in the next test).
      await kubectl(`kubectl apply -f /root/chart/rbac.yaml >/dev/null
        kubectl create namespace ${SESSION} >/dev/null && kubectl label namespace ${SESSION} termlab.instance=${INSTANCE} >/dev/null`);
      const can = await canI([...NEEDED, ...REFUSED]);
      for (const c of NEEDED) assert.equal(can.get(c), 'yes', `can ${c}`);
      for (const c of REFUSED) assert.equal(can.get(c), 'no', `cannot ${c}`);
      t.diagnostic(`${NEEDED.length} needed rights granted, ${REFUSED.length} others refused`);
      // What RBAC alone cannot do: scope those rules to session namespaces. A ClusterRoleBinding grants
      // them everywhere; the admission policies (next test) are what keeps the gateway out.
      const everywhere = await canI(['create pods --subresource=exec -n kube-system', 'create pods -n default', 'delete namespaces/kube-system']);
      assert.deepEqual([...everywhere.values()], ['yes', 'yes', 'yes'], 'RBAC alone reaches every namespace (documented in README.md)');
    });

    test('admission policies: the gateway makes and deletes only its own labelled, prefixed, Pod-Security-labelled namespaces', async () => {
      await kubectl('kubectl apply -f /root/chart/policy.yaml >/dev/null');
      // The CEL type-checks without warnings on this API server.
      for (const p of ['namespaces', 'in-sessions', 'services', 'pods']) {
        const status = await kubectl(`for i in $(seq 100); do s=$(kubectl get validatingadmissionpolicy ${CLUSTER_NAME}-${p} -o jsonpath='{.status.observedGeneration} {.status.typeChecking}'); [ "\${s%% *}" = 1 ] && { echo "$s"; exit 0; }; sleep 0.1; done; exit 1`);
        assert.doesNotMatch(status, /warning/i, `${p}: ${status}`);
      }
      const ns = (name: string, labels: Record<string, string>) =>
        `echo '${JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } })}' | kubectl --as=${SA} create -f -`;
      const good = { 'termlab.instance': INSTANCE, 'termlab.session': 's2', 'pod-security.kubernetes.io/enforce': 'baseline' };
      // In force once a server-side dry run of a bad namespace is refused (policies load asynchronously).
      await kubectl(`for i in $(seq 300); do ${ns('not-a-session', good).replace('create -f -', 'create --dry-run=server -f - 2>&1')} | grep -q 'may only create or delete namespaces named ${PREFIX}' && exit 0; sleep 0.1; done; exit 1`, 60_000);

      const refused = async (name: string, labels: Record<string, string>, said: RegExp) => {
        const r = await shStatus(docker!, box.id, ns(name, labels));
        assert.notEqual(r.code, 0, `${name} ${JSON.stringify(labels)} is refused`);
        assert.match(r.err, said);
        assert.match(r.err, /ValidatingAdmissionPolicy/);
      };
      await refused('not-a-session', good, /namespaces named tl-lab1-/);
      await refused(`${PREFIX}nolabel`, { 'pod-security.kubernetes.io/enforce': 'baseline' }, /labelled termlab\.instance=lab1/);
      await refused(`${PREFIX}other`, { ...good, 'termlab.instance': 'other' }, /labelled termlab\.instance=lab1/);
      // privileged (what docker labs need) only with a sandboxed RuntimeClass configured: see the last test
      await refused(`${PREFIX}privileged`, { ...good, 'pod-security.kubernetes.io/enforce': 'privileged' }, /one of: baseline, restricted(?!, privileged)/);
      await refused(`${PREFIX}nopsa`, { 'termlab.instance': INSTANCE }, /pod-security\.kubernetes\.io\/enforce/);
      assert.match(await kubectl(ns(`${PREFIX}s2`, good)), /namespace\/tl-lab1-s2 created/);
      // No relabelling (RBAC has no update; the policy would refuse it too).
      assert.notEqual((await asGateway(`label namespace ${PREFIX}s2 termlab.instance=other --overwrite`)).code, 0);
      // Deleting: only its own.
      await kubectl('kubectl create namespace bystander >/dev/null');
      const r = await asGateway('delete namespace bystander --wait=false');
      assert.notEqual(r.code, 0, 'may not delete bystander');
      assert.match(r.err, /namespaces named tl-lab1-/);
      // (kube-system and default: also refused by the API server's own NamespaceLifecycle, whichever answers first)
      for (const victim of ['kube-system', 'default']) assert.notEqual((await asGateway(`delete namespace ${victim} --wait=false`)).code, 0);
      assert.equal(await kubectl('kubectl get namespace bystander kube-system default -o name | wc -l'), '3');
    });

    test('admission policies: pods, exec and port-forward only inside session namespaces', async (t) => {
      const session = `${PREFIX}s2`;
      const pod = (namespace: string, name: string) => `echo '${JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace },
        spec: { automountServiceAccountToken: false, enableServiceLinks: false, terminationGracePeriodSeconds: 0,
          containers: [{ name: 'lab', image: 'termlab/web:1.0' }] } })}' | kubectl --as=${SA} create -f -`;
      // The session's objects, as the backend makes them, as the gateway.
      const sa = await asGateway(`create serviceaccount default -n ${session}`);
      assert.ok(sa.code === 0 || /already exists/i.test(sa.err), sa.err); // the controller-manager may have made it first
      for (const obj of [
        `{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "session"}, "spec": {"hard": {"pods": "2"}}}`,
        `{"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "session"}, "spec": {"limits": [{"type": "Container", "default": {"memory": "256Mi", "cpu": "500m"}, "defaultRequest": {"memory": "32Mi", "cpu": "10m"}}]}}`,
        `{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "session-only"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{"from": [{"podSelector": {}}]}], "egress": [{"to": [{"podSelector": {}}]}]}}`,
        `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hosts"}, "spec": {"clusterIP": "None", "selector": {"app": "lab"}}}`,
      ]) {
        const r = await shStatus(docker!, box.id, `echo '${obj}' | kubectl --as=${SA} create -n ${session} -f -`);
        assert.equal(r.code, 0, r.err);
      }
      assert.equal((await shStatus(docker!, box.id, pod(session, 'web'))).code, 0, 'a pod in the session namespace');
      const token = await shStatus(docker!, box.id, pod(session, 'with-token').replace('"automountServiceAccountToken":false', '"automountServiceAccountToken":true'));
      assert.notEqual(token.code, 0, 'a pod that would mount an API token is refused');
      assert.match(token.err, /must set automountServiceAccountToken: false/);
      // Its Service is headless: nothing that would expose learners' pods outside the cluster.
      for (const spec of ['{"type": "NodePort", "selector": {"app": "lab"}, "ports": [{"port": 80}]}',
        '{"type": "LoadBalancer", "selector": {"app": "lab"}, "ports": [{"port": 80}]}',
        '{"type": "ExternalName", "externalName": "example.com"}', '{"selector": {"app": "lab"}, "ports": [{"port": 80}]}']) {
        const r = await shStatus(docker!, box.id,
          `echo '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "exposed"}, "spec": ${spec}}' | kubectl --as=${SA} create -n ${session} -f -`);
        assert.notEqual(r.code, 0, `refused: ${spec}`);
        assert.match(r.err, /may only create headless Services/);
      }
      // The same in a namespace of someone else's: RBAC allows it, the policy refuses it.
      for (const other of ['bystander', 'default', 'kube-system']) {
        const r = await shStatus(docker!, box.id, pod(other, 'intruder'));
        assert.notEqual(r.code, 0, `no pod in ${other}`);
        assert.match(r.err, /may only act inside its session namespaces/);
        const np = await shStatus(docker!, box.id, `echo '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": {"podSelector": {}}}' | kubectl --as=${SA} create -n ${other} -f -`);
        assert.notEqual(np.code, 0, `no NetworkPolicy in ${other}`);
        assert.match(np.err, /may only act inside its session namespaces/);
      }
      // Someone else's running pod, made by the cluster's admin.
      await kubectl(`${pod('bystander', 'victim').replace(`--as=${SA} `, '')} >/dev/null
        kubectl wait --for=condition=Ready -n bystander pod/victim --timeout=90s >/dev/null
        kubectl wait --for=condition=Ready -n ${session} pod/web --timeout=90s >/dev/null`, 100_000);

      // exec: into the session's pod yes, into the other no.
      assert.equal(await kubectl(`kubectl --as=${SA} exec -n ${session} web -- echo exec-ok`), 'exec-ok');
      const exec = await asGateway('exec -n bystander victim -- echo should-not-run');
      assert.notEqual(exec.code, 0);
      assert.match(exec.err, /may only act inside its session namespaces/);
      assert.doesNotMatch(exec.err, /should-not-run/);

      // port-forward: the session's pod answers through it; the other is refused.
      const page = await kubectl(`kubectl --as=${SA} port-forward -n ${session} pod/web 18080:80 > /tmp/pf.log 2>&1 & pf=$!
        for i in $(seq 100); do curl -sf http://127.0.0.1:18080/ && { kill $pf; exit 0; }; sleep 0.1; done; kill $pf; cat /tmp/pf.log; exit 1`);
      assert.match(page, /Hello from termlab web/);
      const pf = await asGateway('port-forward -n bystander pod/victim 18081:80', 20_000);
      assert.notEqual(pf.code, 0);
      assert.match(pf.err, /may only act inside its session namespaces/);

      // Deleting: not someone else's pod; its own namespace, yes.
      const del = await asGateway('delete pod -n bystander victim --wait=false');
      assert.notEqual(del.code, 0);
      assert.match(del.err, /may only act inside its session namespaces/);
      assert.equal((await asGateway(`delete pod -n ${session} web --wait=false`)).code, 0);
      assert.equal((await asGateway(`delete namespace ${session} --wait=false`)).code, 0);
      assert.equal((await asGateway(`delete namespace ${PREFIX}rbac --wait=false`)).code, 0);
      assert.equal(await kubectl('kubectl get pod -n bystander victim -o name'), 'pod/victim');
      // Reads are not admission-controlled: what the gateway may see, everywhere, is pods and the like (never secrets).
      assert.equal((await asGateway('get pods -n bystander -o name')).code, 0);
      assert.notEqual((await asGateway('get secrets -n bystander')).code, 0);
      t.diagnostic('create/delete/exec/port-forward refused outside session namespaces; reads of pods stay cluster-wide');
    });

    test("the backend's own calls (server/sandbox/kubernetes) pass, from the host, with the ServiceAccount's real token", async () => {
      // What the gateway pod would hold: a token of its ServiceAccount (TokenRequest), the API at the box's address.
      const token = await kubectl(`kubectl create token termlab -n ${NS} --duration=10m`);
      const admin = new KubeConfig();
      admin.loadFromString(await kubectl('cat /root/.kube/config'));
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: admin.clusters.map((c) => ({ ...c, server: `https://${box.ip}:6443`, tlsServerName: box.hostname })),
        users: [{ name: 'gateway', token }],
        contexts: [{ name: 'gateway', cluster: admin.clusters[0]!.name, user: 'gateway' }],
        currentContext: 'gateway',
      });
      const apis: Apis = { core: kc.makeApiClient(CoreV1Api), net: kc.makeApiClient(NetworkingV1Api) };
      const spec: SessionSpec = { instance: INSTANCE, session: 'real', namespace: namespaceName('tl-', INSTANCE, 'real'),
        profile: 'shell', limits: { memoryMb: 256, pids: 128, cpus: 0.5, diskMb: 256 }, internet: false };
      assert.equal(spec.namespace, `${PREFIX}real`);
      await ensureSession(apis, spec);
      await setQuota(apis, spec, 1);
      await setQuota(apis, spec, 2); // replaces the quota: update
      await apis.core.createNamespacedPod({ namespace: spec.namespace,
        body: hostPod({ ...spec, host: 'web', image: 'termlab/web:1.0', deadlineSeconds: 600 }) });
      assert.ok((await instanceNamespaces(apis, INSTANCE)).includes(spec.namespace));
      assert.equal(await kubectl(`kubectl get resourcequota session -n ${spec.namespace} -o jsonpath='{.spec.hard.pods}'`), '2');
      // The same code aimed elsewhere is refused.
      await assert.rejects(ensureSession(apis, { ...spec, namespace: 'elsewhere' }), /may only create or delete namespaces named tl-lab1-/);
      await assert.rejects(apis.core.listNamespacedSecret({ namespace: spec.namespace }), /forbidden/i);
      assert.equal(await deleteNamespace(apis, spec.namespace, 90_000), true, 'the namespace is gone');
    });

    test('with a sandboxed RuntimeClass configured: privileged session namespaces, and every pod under that RuntimeClass', async () => {
      const rendered = await render([...TEST_VALUES, '--set', 'runtimeClass=sandboxed']);
      const { c } = gatewayContainer(rendered.docs);
      assert.equal(envOf(c, 'TERMLAB_KUBE_RUNTIME_CLASS')?.value, 'sandboxed');
      const policies = rendered.docs.filter((d) => d.kind === 'ValidatingAdmissionPolicy').map((d) => `---\n${stringify(d)}`).join('');
      await kubectl(`echo '${Buffer.from(policies).toString('base64')}' | base64 -d | kubectl apply -f - >/dev/null
        for rc in sandboxed runc-direct; do
          echo '{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "'$rc'"}, "handler": "runc"}' | kubectl create -f - >/dev/null
        done`);
      const ns = `${PREFIX}dind`;
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: {
        'termlab.instance': INSTANCE, 'termlab.session': 'dind', 'pod-security.kubernetes.io/enforce': 'privileged' } } });
      // The updated policy is in force once a server-side dry run of this namespace passes.
      await kubectl(`for i in $(seq 300); do echo '${body}' | kubectl --as=${SA} create --dry-run=server -f - >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1`, 60_000);
      assert.match(await kubectl(`echo '${body}' | kubectl --as=${SA} create -f -`), /created/);
      const pod = (name: string, runtimeClassName?: string) => `echo '${JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns },
        spec: { automountServiceAccountToken: false, ...(runtimeClassName ? { runtimeClassName } : {}),
          containers: [{ name: 'lab', image: 'termlab/web:1.0', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] } })}' | kubectl --as=${SA} create -f -`;
      // Each policy is loaded by the API server on its own: the pods' rule is in force once a server-side
      // dry run of a pod without the RuntimeClass is refused (the namespace's rule above may come first).
      await kubectl(`for i in $(seq 300); do ${pod('probe').replace('create -f -', 'create --dry-run=server -f -')} 2>&1 | grep -q 'must run under RuntimeClass sandboxed' && exit 0; sleep 0.1; done; exit 1`, 60_000);
      for (const [name, rc] of [['plain', undefined], ['other', 'runc-direct']] as const) {
        const r = await shStatus(docker!, box.id, pod(name, rc));
        assert.notEqual(r.code, 0, `${name}: refused`);
        assert.match(r.err, /must run under RuntimeClass sandboxed/);
      }
      assert.match(await kubectl(pod('sandboxed', 'sandboxed')), /pod\/sandboxed created/);
      assert.equal((await asGateway(`delete namespace ${ns} --wait=false`)).code, 0);
    });
  });
});
