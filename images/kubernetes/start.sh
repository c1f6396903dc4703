#!/bin/bash
# Main process of a "kubernetes" profile box (under docker-init as PID 1): a single-node
# cluster. cgroup v1 remount (as images/docker/entrypoint.sh), per-box PKI, containerd + CNI
# bridge, etcd, kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy, CoreDNS (a
# box process behind Service kube-system/kube-dns) and the chart repository on :8879.
# Prints "termlab-box: ready" once the node is Ready and the default ServiceAccount exists
# (the lab server waits for that line); on failure "termlab-box: FAILED ..." and exits.
# Component logs: /var/log/k8s/*.log.
set -u
T0=$(date +%s.%N)
ts() { echo "termlab-box: [$(awk -v a=$T0 -v b=$(date +%s.%N) "BEGIN{printf \"%.2f\", b-a}")s] $*"; }
fail() { echo "termlab-box: FAILED: $*"; for f in /var/log/k8s/*.log; do [ -s "$f" ] && { echo "== $f"; tail -n 5 "$f"; }; done; exit 1; }
NODE=$(hostname | tr 'A-Z' 'a-z')
# 1. cgroups (copied from images/docker/entrypoint.sh)
hierarchies=()
while IFS=: read -r id ctrls _; do [ "$id" != 0 ] && [ -n "$ctrls" ] && hierarchies+=("$ctrls"); done < /proc/self/cgroup
for m in $(awk '$2 ~ "^/sys/fs/cgroup/" { print $2 }' /proc/self/mounts | sort -r); do umount "$m" || fail "umount $m"; done
awk '$2 == "/sys/fs/cgroup" { f = 1 } END { exit !f }' /proc/self/mounts && { umount /sys/fs/cgroup || fail umount; }
mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup /sys/fs/cgroup
for h in "${hierarchies[@]}"; do
  dir=${h#name=}; opts=$h; [[ $h == name=* ]] && opts="none,$h"
  mkdir -p "/sys/fs/cgroup/$dir"
  if ! mount -t cgroup -o "$opts" cgroup "/sys/fs/cgroup/$dir"; then [[ $h == name=* ]] && { rmdir "/sys/fs/cgroup/$dir"; continue; }; fail "mount cgroup $h"; fi
  if [[ $h == *,* ]]; then for s in ${h//,/ }; do ln -sfn "$h" "/sys/fs/cgroup/$s"; done; fi
done
for i in $(seq 1 300); do ok=1; for d in /sys/fs/cgroup/*/; do [ -w "$d" ] || ok=0; done; [ $ok = 1 ] && break; sleep 0.02; done
[ $ok = 1 ] || fail "cgroup hand-over"
ts cgroups ok
P=/etc/kubernetes/pki; mkdir -p $P /var/log/k8s /etc/cni/net.d /var/lib/kubelet
# The steps below overlap where they can (a cold start was ~9.6 s, all of it serial; measured in
# docs/benchmarks.md): containerd and the image import run in the background from here on, etcd
# needs no certificates, and the kubelet starts while the apiserver runs its post-start hooks.
# 2. containerd (CRI) + CNI, in the background; `wait $IMPORT` before the kubelet needs it.
cat > /etc/containerd/k8s.toml <<T
version = 2
root = "/var/lib/containerd"
state = "/run/containerd-k8s"
[grpc]
  address = "/run/containerd-k8s/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/termlab/pause:1"
  restrict_oom_score_adj = true
  disable_apparmor = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
T
cat > /etc/cni/net.d/10-bridge.conflist <<T
{"cniVersion":"0.4.0","name":"k8s-pods","plugins":[
 {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"hairpinMode":true,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.0.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
T
setsid containerd --config /etc/containerd/k8s.toml > /var/log/k8s/containerd.log 2>&1 < /dev/null &
CTR="ctr -a /run/containerd-k8s/containerd.sock"
(
  for i in $(seq 200); do [ -S /run/containerd-k8s/containerd.sock ] && $CTR version >/dev/null 2>&1 && break; sleep 0.05; done
  $CTR -n k8s.io images import /k8s/images/k8s-images.tar
) > /var/log/k8s/import.log 2>&1 &
IMPORT=$!
# 3. etcd
setsid etcd --name $NODE --data-dir /var/lib/etcd --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster $NODE=http://127.0.0.1:2380 \
  --unsafe-no-fsync > /var/log/k8s/etcd.log 2>&1 < /dev/null &
(cd $P && KEYALG=ec sh /k8s/mkpki.sh $NODE) || fail pki; chmod 600 $P/*.key
ts pki ok
kc() { # name cert: a kubeconfig with embedded certs (a heredoc: 16 kubectl calls took 1 s)
  cat > /etc/kubernetes/$1.conf <<T
apiVersion: v1
kind: Config
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: $(base64 -w0 $P/ca.crt)}}]
users: [{name: u, user: {client-certificate-data: $(base64 -w0 $P/$2.crt), client-key-data: $(base64 -w0 $P/$2.key)}}]
contexts: [{name: k, context: {cluster: k, user: u}}]
current-context: k
T
  chmod 600 /etc/kubernetes/$1.conf
}
kc admin admin; kc controller-manager controller-manager; kc scheduler scheduler; kc kubelet kubelet
mkdir -p /root/.kube; cp /etc/kubernetes/admin.conf /root/.kube/config
ts kubeconfigs ok
# 4. apiserver
setsid kube-apiserver --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address=$(hostname -i | awk '{print $1}') \
  --service-cluster-ip-range=10.96.0.0/16 --client-ca-file=$P/ca.crt --tls-cert-file=$P/apiserver.crt --tls-private-key-file=$P/apiserver.key \
  --kubelet-client-certificate=$P/apiserver-kubelet-client.crt --kubelet-client-key=$P/apiserver-kubelet-client.key \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file=$P/sa.pub --service-account-signing-key-file=$P/sa.key \
  --authorization-mode=Node,RBAC --allow-privileged=true --enable-priority-and-fairness=false \
  > /var/log/k8s/apiserver.log 2>&1 < /dev/null &
# 5. kubelet (started below, once the apiserver serves and containerd has its images)
cat > /var/lib/kubelet/config.yaml <<T
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd-k8s/containerd.sock
failSwapOn: false
failCgroupV1: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
localStorageCapacityIsolation: false
protectKernelDefaults: false
makeIPTablesUtilChains: false
serializeImagePulls: false
registerNode: true
T
wait $IMPORT || fail "ctr import"
ts containerd ok + images imported
for i in $(seq 600); do kubectl get --raw /version >/dev/null 2>&1 && break; sleep 0.05; done
ts apiserver serving
# The box's own objects, made while the apiserver runs its post-start hooks (retried until the
# namespaces exist): Service kube-system/kube-dns in front of CoreDNS (a box process), and the
# default namespace's ServiceAccount "default" and ConfigMap "kube-root-ca.crt", which a pod there
# needs (admission; its token volume). The controller-manager would make the same two ~1.5 s after
# the apiserver is ready (its controllers start last); they find them made and leave them.
cat > /etc/kubernetes/box-objects.yaml <<T
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-box, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.1]}]
ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-root-ca.crt
  namespace: default
  annotations: {kubernetes.io/description: "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}
data:
  ca.crt: |
$(sed 's/^/    /' $P/ca.crt)
T
(for i in $(seq 600); do kubectl apply -f /etc/kubernetes/box-objects.yaml && exit 0; sleep 0.1; done; exit 1) > /var/log/k8s/objects.log 2>&1 &
OBJECTS=$!
# Started now, the kubelet's own start (~0.5 s) overlaps the apiserver's post-start hooks (~1.5 s:
# two of them poll at 1 s); it registers the node as soon as the apiserver lets it.
setsid kubelet --config=/var/lib/kubelet/config.yaml --kubeconfig=/etc/kubernetes/kubelet.conf --hostname-override=$NODE --node-ip=$(hostname -i | awk '{print $1}') \
  > /var/log/k8s/kubelet.log 2>&1 < /dev/null &
for i in $(seq 600); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
kubectl get --raw /readyz >/dev/null 2>&1 || fail "apiserver not ready"
ts apiserver ready
# Checked before the next processes start: their start slowed each kubectl call here to ~0.4 s.
for i in $(seq 600); do kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True && break; sleep 0.1; done
kubectl get node $NODE -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True || fail "node $NODE not Ready"
ts node Ready
# 6. controller-manager and scheduler: after the apiserver is ready, since they exit when RBAC
# (bootstrapped by its last post-start hook) refuses them the kube-system authentication ConfigMap.
# The controller-manager makes a ServiceAccount and a token for each of its ~40 controllers
# (--use-service-account-credentials) before it starts any: at the default client rate limit
# (--kube-api-qps 20) that took ~4.5-5 s, and the default ServiceAccount waited for it.
setsid kube-controller-manager --kubeconfig=/etc/kubernetes/controller-manager.conf --authentication-kubeconfig=/etc/kubernetes/controller-manager.conf \
  --authorization-kubeconfig=/etc/kubernetes/controller-manager.conf --use-service-account-credentials=true --service-account-private-key-file=$P/sa.key \
  --root-ca-file=$P/ca.crt --cluster-signing-cert-file=$P/ca.crt --cluster-signing-key-file=$P/ca.key --leader-elect=false \
  --allocate-node-cidrs=false --kube-api-qps=1000 --kube-api-burst=1000 \
  > /var/log/k8s/controller-manager.log 2>&1 < /dev/null &
setsid kube-scheduler --kubeconfig=/etc/kubernetes/scheduler.conf --authentication-kubeconfig=/etc/kubernetes/scheduler.conf \
  --authorization-kubeconfig=/etc/kubernetes/scheduler.conf --leader-elect=false > /var/log/k8s/scheduler.log 2>&1 < /dev/null &
# 7. CoreDNS, a box process behind Service kube-system/kube-dns.
mkdir -p /etc/coredns
cat > /etc/coredns/Corefile <<T
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig /etc/kubernetes/admin.conf k
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
T
setsid coredns -conf /etc/coredns/Corefile > /var/log/k8s/coredns.log 2>&1 < /dev/null &
# 8. kube-proxy (it reads its node's address) and the chart repository (index.yaml + packaged
# charts made at image build).
cat > /var/lib/kubelet/kube-proxy.yaml <<T
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: /etc/kubernetes/admin.conf}
mode: iptables
clusterCIDR: 10.244.0.0/24
hostnameOverride: $NODE
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
T
setsid kube-proxy --config=/var/lib/kubelet/kube-proxy.yaml > /var/log/k8s/kube-proxy.log 2>&1 < /dev/null &
setsid busybox httpd -f -p 127.0.0.1:8879 -h /srv/charts > /var/log/k8s/charts-httpd.log 2>&1 < /dev/null &
ts kube-proxy/coredns started
# 9. Ready once a pod applied in the default namespace is admitted and gets its token volume.
wait $OBJECTS || fail "kube-dns service, default service account"
ts "node $NODE Ready, default service account made"
echo "termlab-box: ready"
exec sleep infinity
