#!/usr/bin/env bash
# Creates a cluster CA and one certificate per name (nodes and clients), for Actorvisor's mutual TLS:
#   deploy/make-certs.sh DIR NAME...        e.g. deploy/make-certs.sh /etc/actorvisor/tls hv1 hv2 hv3 admin
# Writes DIR/ca.pem (every node's Tls:CaCertificate, the CLI's --tls-ca), DIR/NAME.pfx (Tls:Certificate,
# --tls-certificate) and DIR/pfx-password (Tls:PasswordFile, --tls-password-file). Keeps an existing CA.
# Each certificate names NAME, localhost and 127.0.0.1; set CERT_SAN="DNS:hv1.example.net,IP:10.0.0.1" to add more.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 DIR NAME..." >&2; exit 2; }
dir=$1; shift
mkdir -p "$dir"
umask 077
[[ -f "$dir/pfx-password" ]] || openssl rand -hex 16 > "$dir/pfx-password"
if [[ ! -f "$dir/ca.pem" ]]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -subj "/CN=actorvisor-cluster-ca" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
for name in "$@"; do
  san="DNS:$name,DNS:localhost,IP:127.0.0.1${CERT_SAN:+,$CERT_SAN}"
  openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 825 -sha256 -out "$dir/$name.pem" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san") 2>/dev/null
  openssl pkcs12 -export -inkey "$dir/$name.key" -in "$dir/$name.pem" -certfile "$dir/ca.pem" -out "$dir/$name.pfx" -passout "file:$dir/pfx-password"
  rm -f "$dir/$name.csr" "$dir/$name.key"
  echo "$dir/$name.pfx"
done
