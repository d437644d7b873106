# A strict reader of Prometheus's text exposition format (version 0.0.4,
# https://prometheus.io/docs/instrumenting/exposition_formats/) with the
# naming rules of https://prometheus.io/docs/practices/naming/ that we
# hold /metrics to: every family has one HELP and then one TYPE before its
# samples; a family's samples are contiguous; names and label names are
# well formed; label values are quoted with only \\, \" and \n escaped;
# no label twice, no series twice; values are Go floats; counters end in
# _total; summaries and histograms only have their own suffixes.
# Prints "N families, M samples" or each problem; exits 1 on any.
function bad(msg) {
	printf "promtext: line %d: %s: %s\n", NR, msg, $0
	err = 1
}
BEGIN {
	name_re = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
	lname_re = "^[a-zA-Z_][a-zA-Z0-9_]*$"
	value_re = "^([-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|NaN|[-+]?Inf)$"
	err = 0; nfam = 0; nsamples = 0; last = ""
}
/^# HELP / {
	n = $3
	if (n !~ name_re) bad("bad metric name")
	if (n in help) bad("second HELP for " n)
	if (n in sampled) bad("HELP after the samples of " n)
	if (NF < 4) bad("empty HELP text")
	help[n] = 1
	next
}
/^# TYPE / {
	n = $3
	if (NF != 4) bad("TYPE takes a name and a type")
	if ($4 !~ /^(counter|gauge|summary|histogram|untyped)$/)
		bad("unknown type " $4)
	if (n in type) bad("second TYPE for " n)
	if (!(n in help)) bad("TYPE of " n " without a HELP before it")
	if (n in sampled) bad("TYPE after the samples of " n)
	if ($4 == "counter" && n !~ /_total$/)
		bad("counter " n " does not end in _total")
	type[n] = $4
	nfam++
	next
}
/^#/ { next }
/^$/ { next }
{
	line = $0
	if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("no metric name"); next }
	name = substr(line, 1, RLENGTH)
	rest = substr(line, RLENGTH + 1)
	labels = ""
	delete seenl
	if (substr(rest, 1, 1) == "{") {
		rest = substr(rest, 2)
		ok = 1
		while (ok && substr(rest, 1, 1) != "}") {
			if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) { ok = 0; break }
			ln = substr(rest, 1, RLENGTH - 2)
			if (ln in seenl) bad("label " ln " twice")
			seenl[ln] = 1
			rest = substr(rest, RLENGTH + 1)
			v = ""
			while (1) {
				c = substr(rest, 1, 1)
				if (c == "") { ok = 0; break }
				if (c == "\"") break
				if (c == "\\") {
					d = substr(rest, 2, 1)
					if (d != "\\" && d != "\"" && d != "n") { bad("bad escape \\" d); ok = 0; break }
					v = v c d
					rest = substr(rest, 3)
					continue
				}
				v = v c
				rest = substr(rest, 2)
			}
			if (!ok) break
			labels = labels ln "=" v ","
			rest = substr(rest, 2)
			if (substr(rest, 1, 1) == ",") {
				rest = substr(rest, 2)
				if (substr(rest, 1, 1) == "}") { bad("trailing comma"); ok = 0 }
			} else if (substr(rest, 1, 1) != "}") ok = 0
		}
		if (!ok) { bad("malformed labels"); next }
		rest = substr(rest, 2)
	}
	nf = split(rest, f, " ")
	if (substr(rest, 1, 1) != " " || nf < 1 || nf > 2 || rest ~ /  /) { bad("expected ' value [timestamp]'"); next }
	if (f[1] !~ value_re) bad("bad value " f[1])
	if (nf == 2 && f[2] !~ /^-?[0-9]+$/) bad("bad timestamp " f[2])
	fam = name
	if (!(fam in type)) {
		fam = name
		sub(/_(sum|count|bucket)$/, "", fam)
		if (!(fam in type) || (type[fam] != "summary" && type[fam] != "histogram"))
			{ bad("sample of " name " without HELP and TYPE"); next }
		if (name ~ /_bucket$/ && type[fam] != "histogram") bad("_bucket of a " type[fam])
		if (name ~ /_bucket$/ && !("le" in seenl)) bad("bucket without le")
	} else if (type[fam] == "histogram") bad("histogram sample without its suffix")
	if (fam != last && (fam in sampled)) bad("samples of " fam " not together")
	sampled[fam] = 1
	last = fam
	key = name "{" labels "}"
	if (key in series) bad("series twice")
	series[key] = 1
	nsamples++
}
END {
	for (n in help) if (!(n in type)) { printf "promtext: %s has HELP but no TYPE\n", n; err = 1 }
	if (!err) printf "%d families, %d samples\n", nfam, nsamples
	exit err
}
