#!/bin/sh
# self-made CA + certs for a single-node cluster named NODE (run inside the pki dir). KEYALG=ec (fast) or rsa.
# The leaf certs are made in parallel (distinct serials, so no shared ca.srl); with KEYALG=ec the
# service-account signing key is ECDSA P-256 too (ES256 tokens): RSA 2048 key generation alone
# took ~0.2 s of a box's start.
set -eu
NODE=${1:-k8s-box}
if [ "${KEYALG:-ec}" = ec ]; then NK="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"; else NK="-newkey rsa:2048"; fi
o() { openssl "$@" 2>/dev/null; }
o req -x509 $NK -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=termlab-ca"
cert() { # serial name subj [san]
  o req $NK -nodes -keyout $2.key -out $2.csr -subj "$3"
  if [ -n "${4:-}" ]; then printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$4" > $2.ext
  else printf "extendedKeyUsage=clientAuth\n" > $2.ext; fi
  o x509 -req -in $2.csr -CA ca.crt -CAkey ca.key -set_serial $1 -out $2.crt -days 3650 -extfile $2.ext
  rm -f $2.csr $2.ext
}
pids=
cert 2 apiserver "/CN=kube-apiserver" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE,IP:127.0.0.1,IP:10.96.0.1" & pids="$pids $!"
cert 3 admin "/O=system:masters/CN=kubernetes-admin" & pids="$pids $!"
cert 4 apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" & pids="$pids $!"
cert 5 controller-manager "/CN=system:kube-controller-manager" & pids="$pids $!"
cert 6 scheduler "/CN=system:kube-scheduler" & pids="$pids $!"
cert 7 kubelet "/O=system:nodes/CN=system:node:$NODE" & pids="$pids $!"
cert 8 kubelet-serving "/CN=$NODE" "DNS:$NODE,DNS:localhost,IP:127.0.0.1" & pids="$pids $!"
if [ "${KEYALG:-ec}" = ec ]; then o ecparam -name prime256v1 -genkey -noout -out sa.key; o ec -in sa.key -pubout -out sa.pub
else o genrsa -out sa.key 2048; o rsa -in sa.key -pubout -out sa.pub; fi
for p in $pids; do wait $p; done
chmod 644 *
