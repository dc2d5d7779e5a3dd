#!/usr/bin/env bash
# make-test-pki.sh [--force] DIR — the throw-away PKI that unit and scenario tests use.
#
# Makes, with the openssl CLI only, ECDSA P-256 keys, 30 days of validity, every file mode 0600:
#   ca.pem, ca-bundle.pem       the test CA's certificate (no key is kept)
#   foreign-ca.pem              another CA's certificate, trusted by nobody
#   server.pem                  CA; SAN localhost, gateway.example.com, *.example.com,
#                               127.0.0.1-127.0.0.9, 127.0.1.1, 127.0.1.2, 127.0.2.1, 127.0.3.1;
#                               serverAuth+clientAuth
#   other-server.pem            CA; SAN other.example only (SNI tests)
#   wrong-host.pem              CA; SAN wrong.example only
#   client.pem                  CA; CN=postern-test-client; clientAuth
#   foreign-client.pem          foreign CA; clientAuth
#   foreign-server.pem          foreign CA; the SANs of server.pem
#   dmz1.pem, dmz2.pem          CA; SAN gateway.example.com, localhost, 127.0.1.1, 127.0.1.2
#   internal1.pem, internal2.pem  CA; serverAuth+clientAuth
#   cluster.key                 48 random bytes, base64
# Each identity file (*.pem but the CA files) holds the certificate chain, then its private key.
#
# Idempotent: does nothing when DIR holds every file, ca.pem is newer than this script and is
# valid for at least one more day; --force remakes everything. Concurrent runs on one DIR are
# serialised with flock, and files are made in a scratch folder and moved in with ca.pem last,
# so a reader never sees a half-made set. Prints one line per file made. Keys live only in DIR
# (keep it out of git: build/ is ignored).
set -euo pipefail

usage() { echo "usage: $0 [--force] DIR" >&2; exit 2; }

force=0
dir=
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -*) usage ;;
    *) [ -z "$dir" ] || usage; dir=$arg ;;
  esac
done
[ -n "$dir" ] || usage
command -v openssl >/dev/null || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
script=${BASH_SOURCE[0]}
identities=(server other-server wrong-host client foreign-client foreign-server
            dmz1 dmz2 internal1 internal2)
all_files=(ca.pem ca-bundle.pem foreign-ca.pem cluster.key)
for n in "${identities[@]}"; do all_files+=("$n.pem"); done

up_to_date() {
  [ -e "$dir/ca.pem" ] || return 1
  [ "$script" -nt "$dir/ca.pem" ] && return 1
  local f
  for f in "${all_files[@]}"; do [ -e "$dir/$f" ] || return 1; done
  openssl x509 -in "$dir/ca.pem" -noout -checkend 86400 >/dev/null 2>&1
}

mkdir -p "$dir"
if [ "$force" -eq 0 ] && up_to_date; then exit 0; fi

exec 9>"$dir/.lock"
flock 9
# Another run may have made the set while this one waited for the lock.
if [ "$force" -eq 0 ] && up_to_date; then exit 0; fi

tmp=$(mktemp -d "$dir/.make.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

serial() { echo "0x01$(openssl rand -hex 15)"; }

# make_ca NAME CN: $tmp/NAME.crt and $tmp/NAME.key
make_ca() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
    -set_serial "$(serial)" -subj "/O=postern tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null
}

# make_identity NAME ISSUER CN EKU [SAN]: $tmp/NAME.pem = certificate, then private key.
make_identity() {
  local name=$1 issuer=$2 cn=$3 eku=$4 san=${5:-}
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$tmp/$name.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/O=postern tests/CN=$cn" -keyout "$tmp/$name.key" -out "$tmp/$name.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/$issuer.crt" -CAkey "$tmp/$issuer.key" \
    -set_serial "$(serial)" -sha256 -days 30 -extfile "$tmp/$name.ext" \
    -out "$tmp/$name.crt" 2>/dev/null
  cat "$tmp/$name.crt" "$tmp/$name.key" >"$tmp/$name.pem"
}

server_san="DNS:localhost,DNS:gateway.example.com,DNS:*.example.com,IP:127.0.0.1"
for i in 2 3 4 5 6 7 8 9; do server_san+=",IP:127.0.0.$i"; done
server_san+=",IP:127.0.1.1,IP:127.0.1.2,IP:127.0.2.1,IP:127.0.3.1"
# dmz1.example.com and dmz2.example.com: the members' own names in the network-namespace topology
# (scripts/netns-topology.sh), where their addresses are not 127.0.1.x.
dmz_san="DNS:gateway.example.com,DNS:dmz1.example.com,DNS:dmz2.example.com,DNS:localhost,IP:127.0.1.1,IP:127.0.1.2"
both="serverAuth,clientAuth"

make_ca ca "postern test CA"
make_ca foreign-ca "postern foreign test CA"
cp "$tmp/ca.crt" "$tmp/ca.pem"
cp "$tmp/ca.crt" "$tmp/ca-bundle.pem"
cp "$tmp/foreign-ca.crt" "$tmp/foreign-ca.pem"

make_identity server ca "localhost" "$both" "$server_san"
make_identity other-server ca "other.example" serverAuth "DNS:other.example"
make_identity wrong-host ca "wrong.example" serverAuth "DNS:wrong.example"
make_identity client ca "postern-test-client" clientAuth
make_identity foreign-client foreign-ca "postern-foreign-client" clientAuth
make_identity foreign-server foreign-ca "localhost" "$both" "$server_san"
make_identity dmz1 ca "dmz1" "$both" "$dmz_san"
make_identity dmz2 ca "dmz2" "$both" "$dmz_san"
make_identity internal1 ca "internal1" "$both" "DNS:internal1.example,DNS:localhost,IP:127.0.0.1"
make_identity internal2 ca "internal2" "$both" "DNS:internal2.example,DNS:localhost,IP:127.0.0.1"
openssl rand -base64 48 >"$tmp/cluster.key"

# ca.pem goes last: its presence means the set is complete.
for f in "${all_files[@]}"; do
  [ "$f" = ca.pem ] && continue
  chmod 600 "$tmp/$f"
  mv -f "$tmp/$f" "$dir/$f"
  echo "make-test-pki: made $dir/$f"
done
chmod 600 "$tmp/ca.pem"
mv -f "$tmp/ca.pem" "$dir/ca.pem"
echo "make-test-pki: made $dir/ca.pem"
