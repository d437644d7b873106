# The cluster deployment of the main job (`make demo-cluster`), sourced by
# tools/demo.sh when DEMO_DEPLOY=cluster: the same tourists' day, summary
# and cross-checks, but through 2 gateways (serve --nats) and 2 pricing
# workers on a 3-node NATS JetStream cluster on loopback
# (tools/nats-cluster.sh).  Each shard settles its own account-days with
# the acquirer simulator and signs its own checkpoints; declined cards
# reach both gateways' deny lists.  This file only replaces demo.sh's
# functions that start, stop and read the engine.
. tests/cluster-lib.sh
tmp=$out
base=$((25000 + $$ % 100 * 50))
engines="127.0.0.1:$((base + 30)),127.0.0.1:$((base + 32))"
from="both shards' databases"
on="on the shards"
# deploy_stop STATUS: when the demo failed, which engine died and how,
# and the end of each engine's log (on stderr), then stops them all.
deploy_stop() {
	[ "${1:-0}" -eq 0 ] || cl_report 25
	cl_cleanup
}
# deploy_start: the 3-node JetStream cluster.
deploy_start() {
	echo "== a 3-node NATS JetStream cluster on loopback (stream TAPS: replicas 3, file storage)"
	cl_start || { echo "the NATS cluster did not start"; exit 1; }
	echo "nats: $urls"
}
# serve CLOCK: both workers (each settling its shard with the acquirer,
# signing its own checkpoints) and both gateways.
serve() {
	CLOCK=$1
	for k in 0 1; do
		worker $k 2 --dev --certs "$out/certs" \
		    --acquirer 127.0.0.1:$acq --settle-interval 1 \
		    --debt-tap-gap 0 --ledger-key-file "$out/ledger.key" \
		    --checkpoint-file "$out/checkpoints-$k"
	done
	for g in 0 1; do
		gateway $g 2 || { tail -n 3 "$out/g$g.log"; exit 1; }
	done
}
stop_engine() {
	for f in "$out"/g0.pid "$out"/g1.pid "$out"/w0.pid "$out"/w1.pid; do
		stop_pid "$f"
	done
}
# q SQL [SQLITE3-OPTION]: over both shards at once, as one engine would
# hold them: temporary views with the tables' and views' names, each the
# union of the shards' rows (taps refused at a gate: the gateways').
q() {
	{
		echo "ATTACH '$out/shard0.db' AS s0; ATTACH '$out/shard1.db' AS s1;"
		echo "ATTACH '$out/gw0.db' AS g0; ATTACH '$out/gw1.db' AS g1;"
		for t in taps charges settlements debts deny v_taps v_legs \
		    v_charges v_operator_revenue; do
			echo "CREATE TEMP VIEW $t AS SELECT * FROM s0.$t UNION ALL SELECT * FROM s1.$t;"
		done
		echo "CREATE TEMP VIEW v_refused_taps AS SELECT * FROM s0.v_refused_taps UNION ALL
		    SELECT * FROM s1.v_refused_taps UNION ALL SELECT * FROM g0.v_refused_taps
		    UNION ALL SELECT * FROM g1.v_refused_taps;"
		echo "$1"
	} | sqlite3 ${2:-} :memory:
}
# deploy_settled: the shards' deny entries reach both gateways' copies.
deploy_settled() {
	_want=$(q "SELECT count(*) FROM deny")
	_i=0
	until [ "$(sqlite3 "$out/gw0.db" "SELECT count(*) FROM deny")" -ge "$_want" ] &&
	    [ "$(sqlite3 "$out/gw1.db" "SELECT count(*) FROM deny")" -ge "$_want" ]; do
		_i=$((_i + 1))
		[ $_i -lt 300 ] || { echo "the deny list did not reach the gateways"; exit 1; }
		sleep 0.1
	done
	echo "deny list: $_want entries on the shards, mirrored by both gateways"
}
deploy_summary() {
	for k in 0 1; do
		echo "shard $k: $(sqlite3 "$out/shard$k.db" "SELECT count(*) FROM taps") taps," \
		    "$(sqlite3 "$out/shard$k.db" "SELECT count(DISTINCT account) FROM charges") accounts"
	done
}
verify() {
	"$BIN"/fare-engine audit verify "$out/shard0.db" "$out/shard1.db" \
	    --checkpoints "$out/checkpoints-0,$out/checkpoints-1" \
	    --pubkey "$out/ledger.key.pub"
}
reconcile() {
	mkdir -p "$out/shards"
	ln -sf ../shard0.db ../shard1.db "$out/shards/"
	"$BIN"/fare-engine audit reconcile "$out/shards" "$out"/reports/*.csv
}
files="shard0.db, shard1.db (the shards; try: fare-engine audit operators \
$out/shard0.db $out/shard1.db --day $DAY), gw0.db, gw1.db (gateways: \
refused taps, the deny list's copy), taps.csv, w*.log, g*.log, acks.log, \
acquirer.journal, checkpoints-0, checkpoints-1 (one per shard; \
ledger.key.pub checks them), reports/, nc/ (the cluster's data and logs)"
