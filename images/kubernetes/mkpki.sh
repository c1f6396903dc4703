#!/bin/sh
# self-made CA + certs for a single-node cluster named NODE (run inside the pki dir). KEYALG=ec (fast) or rsa
set -eu
NODE=${1:-k8s-box}
if [ "${KEYALG:-ec}" = ec ]; then NK="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"; else NK="-newkey rsa:2048"; fi
o() { openssl "$@" 2>/dev/null; }
o req -x509 $NK -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=termlab-ca"
cert() { # name subj [san]
  o req $NK -nodes -keyout $1.key -out $1.csr -subj "$2"
  if [ -n "${3:-}" ]; then printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$3" > $1.ext
  else printf "extendedKeyUsage=clientAuth\n" > $1.ext; fi
  o x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $1.crt -days 3650 -extfile $1.ext
  rm -f $1.csr $1.ext
}
cert apiserver "/CN=kube-apiserver" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE,IP:127.0.0.1,IP:10.96.0.1"
cert admin "/O=system:masters/CN=kubernetes-admin"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:$NODE"
cert kubelet-serving "/CN=$NODE" "DNS:$NODE,DNS:localhost,IP:127.0.0.1"
o genrsa -out sa.key 2048; o rsa -in sa.key -pubout -out sa.pub
chmod 644 *
