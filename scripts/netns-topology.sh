#!/usr/bin/env bash
# netns-topology.sh — the seed's three networks (DESIGN §1) as Linux network namespaces, so
# that "nothing dials into the trusted network" is enforced by a firewall instead of promised.
#
#   scripts/netns-topology.sh up               make the namespaces, links, names and firewall
#   scripts/netns-topology.sh down             remove exactly what `up` made (absent parts are
#                                              skipped, so it also cleans up after a failed up)
#   scripts/netns-topology.sh exec NAME CMD... run CMD inside namespace NAME (client, dmz or
#                                              internal), with that namespace's /etc/hosts
#
#   PREFIX-client    10.231.1.2/24 ──veth── 10.231.1.1/24  PREFIX-dmz      (the public side)
#                                            10.231.1.3/24                   (DMZ member 2)
#   PREFIX-dmz       10.231.2.1/24 ──veth── 10.231.2.2/24  PREFIX-internal (the backplane)
#                    10.231.2.3/24                                           (DMZ member 2)
#
# PREFIX is $NETNS_PREFIX (default pstn; letters, digits and '-'). Every namespace has lo up
# (the internal backend listens on 127.0.3.1 there). There are no routes but the two links'
# own subnets and the DMZ does not forward, so client and internal cannot reach each other.
# gateway.example.com (a SAN of build/test-pki/dmz1.pem and dmz2.pem) resolves to DMZ member
# 1's address on each namespace's side of it, through /etc/netns/NAMESPACE/hosts, which
# `ip netns exec` mounts over /etc/hosts: 10.231.1.1 for client and dmz, 10.231.2.1 for
# internal; dmz1.example.com and dmz2.example.com (SANs of dmz1.pem and dmz2.pem) name each
# member: on its public address in the dmz namespace (10.231.1.1, 10.231.1.3), on its backplane
# address in the internal namespace (10.231.2.1, 10.231.2.3). So internal gateway 1 dials
# socks+ssl://gateway.example.com:1443, internal gateway 2 socks+ssl://dmz2.example.com:1443,
# and each verifies its DMZ member's certificate by that name.
#
# The firewall, in PREFIX-internal only (nftables table inet postern_guard, hook input):
# loopback is accepted, established and related packets are accepted, every packet of a NEW
# connection from outside is counted and dropped (rule comment "new-inbound"), anything else
# (invalid) is dropped by the policy. Outbound connections, such as the reverse links the
# internal gateways dial to the DMZ, pass.
#
# Needs root, iproute2 and nft (scripts/deps.sh installs nftables). Exit status 0 on success;
# `up` fails (and removes its partial work) when a namespace of PREFIX exists already.
set -Eeuo pipefail

prefix=${NETNS_PREFIX:-pstn}
names=(client dmz internal)

usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "$0: $*" >&2; exit 1; }

[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,30}$ ]] || die "bad NETNS_PREFIX '$prefix'"
ns() { echo "$prefix-$1"; }
exists() { [ -e "/run/netns/$1" ]; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

hosts_file() {   # NAME DMZ1-ADDRESS [DMZ2-ADDRESS]: gateway.example.com and the members' names
  mkdir -p "/etc/netns/$(ns "$1")"
  {
    echo "# made by postern scripts/netns-topology.sh up; removed by down"
    echo "127.0.0.1 localhost"
    echo "$2 gateway.example.com dmz1.example.com"
    [ -z "${3:-}" ] || echo "$3 dmz2.example.com"
  } >"/etc/netns/$(ns "$1")/hosts"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root (ip netns, nft)"
  command -v ip >/dev/null || die "ip (iproute2) not found"
  command -v nft >/dev/null || die "nft not found (scripts/deps.sh installs nftables)"
  local n
  for n in "${names[@]}"; do
    ! exists "$(ns "$n")" || die "namespace $(ns "$n") exists already (run: NETNS_PREFIX=$prefix $0 down)"
  done
  trap 'echo "$0: up failed; removing what it made" >&2; down' ERR
  for n in "${names[@]}"; do
    ip netns add "$(ns "$n")"
    in_ns "$n" ip link set lo up
  done
  # Each veth end is made directly inside its namespace: no name is ever taken on the host.
  ip link add to-dmz netns "$(ns client)" type veth peer name to-client netns "$(ns dmz)"
  ip link add to-internal netns "$(ns dmz)" type veth peer name to-dmz netns "$(ns internal)"
  in_ns client ip addr add 10.231.1.2/24 dev to-dmz
  in_ns dmz ip addr add 10.231.1.1/24 dev to-client
  in_ns dmz ip addr add 10.231.1.3/24 dev to-client
  in_ns dmz ip addr add 10.231.2.1/24 dev to-internal
  in_ns dmz ip addr add 10.231.2.3/24 dev to-internal
  in_ns internal ip addr add 10.231.2.2/24 dev to-dmz
  in_ns client ip link set to-dmz up
  in_ns dmz ip link set to-client up
  in_ns dmz ip link set to-internal up
  in_ns internal ip link set to-dmz up
  in_ns dmz sysctl -qw net.ipv4.ip_forward=0
  in_ns internal nft -f - <<'EOF'
table inet postern_guard {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    ct state new counter drop comment "new-inbound"
  }
}
EOF
  hosts_file client 10.231.1.1
  hosts_file dmz 10.231.1.1 10.231.1.3
  hosts_file internal 10.231.2.1 10.231.2.3
  trap - ERR
  echo "netns-topology: up: $(ns client) 10.231.1.2 — $(ns dmz) 10.231.1.1 and .3, 10.231.2.1 and .3 — $(ns internal) 10.231.2.2 (new inbound dropped)"
}

down() {
  local n dir
  for n in "${names[@]}"; do
    # Deleting a namespace deletes its veth ends and its nftables tables with it.
    if exists "$(ns "$n")"; then ip netns del "$(ns "$n")"; fi
    dir=/etc/netns/$(ns "$n")
    rm -f "$dir/hosts"
    if [ -d "$dir" ]; then rmdir "$dir" 2>/dev/null || echo "$0: $dir not empty; left in place" >&2; fi
  done
  rmdir /etc/netns 2>/dev/null || true
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case $cmd in
  up) [ $# -eq 0 ] || usage; up ;;
  down) [ $# -eq 0 ] || usage; down ;;
  exec)
    [ $# -ge 2 ] || usage
    [[ " ${names[*]} " == *" $1 "* ]] || die "unknown namespace '$1' (one of: ${names[*]})"
    n=$1; shift
    exists "$(ns "$n")" || die "namespace $(ns "$n") does not exist (run: $0 up)"
    exec ip netns exec "$(ns "$n")" "$@"
    ;;
  *) usage ;;
esac
