#!/bin/sh
# A 3-node nats-server cluster with JetStream on loopback, for tests and
# demos (Debian's nats-server 2.9).  Config files and data live in DIR;
# each node's PID is in DIR/nK.pid, and only those PIDs are ever signalled.
#
#   tools/nats-cluster.sh start DIR BASE   all three nodes; waits for a
#                                          JetStream meta leader
#   tools/nats-cluster.sh stop DIR         SIGTERM each node, wait for it
#   tools/nats-cluster.sh kill DIR K       SIGKILL node K (1-3)
#   tools/nats-cluster.sh up DIR K         start node K again (its data kept)
#   tools/nats-cluster.sh urls DIR         the client URLs, comma-separated
#
# Ports: clients BASE+K, routes BASE+10+K, monitoring BASE+20+K (K = 1..3);
# BASE below 32740.  NATS_CONF_EXTRA=FILE: its lines are added to every
# node's config (a tls {} and authorization {} block: a secured cluster,
# README "Securing the cluster"; tests/cluster-auth.test.sh).
set -eu
cmd=${1:?usage: nats-cluster.sh start|stop|kill|up|urls DIR [BASE|K]}
dir=${2:?nats-cluster.sh: DIR missing}

conf() {	# conf K BASE: writes DIR/nK.conf
	_k=$1 _b=$2
	mkdir -p "$dir/n$_k"
	cat >"$dir/n$_k.conf" <<EOF
server_name: n$_k
listen: 127.0.0.1:$((_b + _k))
http: 127.0.0.1:$((_b + 20 + _k))
jetstream {
  store_dir: "$dir/n$_k"
  max_memory_store: 64MB
  max_file_store: 2GB
}
cluster {
  name: onecity
  listen: 127.0.0.1:$((_b + 10 + _k))
  routes: [
    nats-route://127.0.0.1:$((_b + 11))
    nats-route://127.0.0.1:$((_b + 12))
    nats-route://127.0.0.1:$((_b + 13))
  ]
}
EOF
	if [ -n "${NATS_CONF_EXTRA:-}" ]; then
		cat "$NATS_CONF_EXTRA" >>"$dir/n$_k.conf"
	fi
}

node_up() {	# node_up K: starts node K from its config, records its PID
	nats-server -c "$dir/n$1.conf" >>"$dir/n$1.log" 2>&1 &
	echo $! >"$dir/n$1.pid"
}

base() { cat "$dir/base"; }

# ready K: node K's monitoring port reports a JetStream meta leader.
ready() {
	curl -s "http://127.0.0.1:$(($(base) + 20 + $1))/jsz" 2>/dev/null |
	    grep -q '"leader"'
}

wait_ready() {	# at most 60 s: a loaded machine elects slowly
	_i=0
	until ready "$1"; do
		_i=$((_i + 1))
		if [ $_i -gt 600 ]; then
			echo "nats-cluster: node $1 has no JetStream leader after 60 s" >&2
			tail -5 "$dir/n$1.log" >&2
			return 1
		fi
		sleep 0.1
	done
}

alive() { [ -f "$dir/n$1.pid" ] && kill -0 "$(cat "$dir/n$1.pid")" 2>/dev/null; }

case $cmd in
start)
	b=${3:?nats-cluster.sh start DIR BASE}
	mkdir -p "$dir"
	echo "$b" >"$dir/base"
	for k in 1 2 3; do
		conf $k "$b"
		node_up $k
	done
	for k in 1 2 3; do
		wait_ready $k
	done
	;;
stop)
	for k in 1 2 3; do
		alive $k && kill -TERM "$(cat "$dir/n$k.pid")"
	done
	for k in 1 2 3; do
		_i=0
		while alive $k && [ $_i -lt 300 ]; do
			_i=$((_i + 1))
			sleep 0.1
		done
		alive $k && kill -KILL "$(cat "$dir/n$k.pid")"
		rm -f "$dir/n$k.pid"
	done
	;;
kill)
	k=${3:?nats-cluster.sh kill DIR K}
	alive "$k" && kill -KILL "$(cat "$dir/n$k.pid")"
	rm -f "$dir/n$k.pid"
	;;
up)
	k=${3:?nats-cluster.sh up DIR K}
	alive "$k" || node_up "$k"
	wait_ready "$k"
	;;
urls)
	b=$(base)
	echo "nats://127.0.0.1:$((b + 1)),nats://127.0.0.1:$((b + 2)),nats://127.0.0.1:$((b + 3))"
	;;
*)
	echo "nats-cluster: unknown command '$cmd'" >&2
	exit 2
	;;
esac
