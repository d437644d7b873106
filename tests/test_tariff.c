/*
 * The tariff loader: good tariffs load, every broken tariff under
 * tests/tariffs-bad/ fails with exactly its expected messages, and a
 * seeded corruption run never crashes or leaks (ASan in SAN=1 builds).
 */
#include <dirent.h>
#include <sys/stat.h>

#include "testutil.h"
#include "rng.h"
#include "tariff-int.h"

/* The sample tariff and both worked examples load. */
static void
test_good_tariffs_load(void **state)
{
	static const char *const dirs[] = {TU_MINI, TU_WEEK, TU_NL,
	    "tests/tariffs-bad/base"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		struct tariff *t = tu_load(dirs[i]);
		char s[512];
		tariff_summary(t, s, sizeof s);
		assert_non_null(strstr(s, "stops"));
		tariff_free(t);
	}
}

/* The sample tariff is what the README promises: 10+ networks, 150+ stops. */
static void
test_nl_sample_shape(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	static const char *const must[] = {"asd", "shl", "gvb-rijksmuseum",
	    "gvb-dam", "ebs-zaanseschans", "cxx-keukenhof", "dt", "gvc",
	    "htm-kurhaus", "rtd", "ferry-kinderdijk", "ut", "hlm", "ledn",
	    "mt", "gn", "keo-giethoorn", "ehv"};
	size_t i;
	uint32_t n, nocheckout = 0;

	(void)state;
	assert_true(tariff_nnetworks(t) >= 10);
	assert_true(tariff_nstops(t) >= 150);
	for (i = 0; i < sizeof must / sizeof must[0]; i++)
		if (tariff_stop(t, must[i], strlen(must[i])) == TARIFF_NONE)
			fail_msg("stop %s missing from tariffs/nl", must[i]);
	for (n = 0; n < tariff_nnetworks(t); n++)
		nocheckout += !tariff_checkout_required(t, n);
	assert_true(nocheckout >= 1);
	assert_true(t->ncaps >= 3);
	tariff_free(t);
}

/* Products: rider-category rows and non-EMV media are ignored; EMV wins. */
static void
test_product_media_filtering(void **state)
{
	struct tariff *t = tu_load("tests/tariffs-bad/base");
	uint32_t p;

	(void)state;
	p = strtab_find(t->product_ids, "rail_rush", 9);
	assert_int_equal(t->product[p].amount_cents, 150);
	p = strtab_find(t->product_ids, "ferry", 5);
	assert_int_equal(t->product[p].amount_cents, 100);
	tariff_free(t);
}

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* Replaces {DIR} in an expected line with the tariff directory. */
static void
expand(const char *line, const char *dir, char *out, size_t len)
{
	const char *p = strstr(line, "{DIR}");

	if (p == NULL)
		snprintf(out, len, "%s/%s", dir, line);
	else
		snprintf(out, len, "%s/%.*s%s%s", dir, (int)(p - line), line,
		    dir, p + 5);
}

static int
check_bad_case(const char *name)
{
	char dir[256], cmd[600], path[512], want[1024], *exp, *line, *save;
	struct diag d;
	struct tariff *t;
	size_t i;
	int found, nlines = 0;

	snprintf(dir, sizeof dir, "/tmp/onecity-bad-%d-%s", (int)getpid(), name);
	snprintf(cmd, sizeof cmd, "sh tests/bad-tariff-dir.sh %s %s >/dev/null",
	    name, dir);
	assert_int_equal(system(cmd), 0);
	diag_init(&d);
	t = tariff_load(dir, &d);
	if (t != NULL)
		fail_msg("broken tariff %s loaded", name);
	snprintf(path, sizeof path, "tests/tariffs-bad/%s/expected.txt", name);
	exp = read_text(path);
	for (line = strtok_r(exp, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		nlines++;
		expand(line, dir, want, sizeof want);
		for (i = 0, found = 0; i < d.n && !found; i++)
			found = strcmp(d.msg[i], want) == 0;
		if (!found) {
			diag_print(&d, stderr);
			fail_msg("%s: expected message not reported: %s", name,
			    want);
		}
	}
	assert_true(nlines > 0);
	free(exp);
	diag_free(&d);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 1;
}

/* Every broken tariff reports its FILE:LINE: message and does not load. */
static void
test_broken_tariffs(void **state)
{
	DIR *dp = opendir("tests/tariffs-bad");
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "base") == 0)
			continue;
		n += check_bad_case(e->d_name);
	}
	closedir(dp);
	assert_true(n >= 20);
}

/* Limits: more than 64 networks is refused with a clear message. */
static void
test_network_limit(void **state)
{
	struct buf b = {0, 0, 0, 0};
	struct diag d;
	char *dir;
	int i;

	(void)state;
	buf_adds(&b, "network_id,network_name\n");
	for (i = 0; i < 70; i++) {
		char line[64];
		snprintf(line, sizeof line, "N%02d,Network %d\n", i, i);
		buf_adds(&b, line);
	}
	buf_addc(&b, '\0');
	{
		struct tu_file f[] = {{"networks.txt", b.p}};
		dir = tu_tariff_dir("tests/tariffs-bad/base", f, 1);
	}
	diag_init(&d);
	assert_null(tariff_load(dir, &d));
	assert_true(diag_has(&d, "more than 64 networks: over the limit"));
	diag_free(&d);
	buf_free(&b);
	tu_rmdir(dir);
}

/* A stop without areas of its own takes its parent station's areas. */
static void
test_parent_station_areas(void **state)
{
	struct tu_file f[] = {
		{"stops.txt", "stop_id,stop_name,stop_lat,stop_lon,parent_station\n"
		    "A,A,52.37,4.90,\nB,B,52.08,5.11,\nE,E,51.92,4.46,\n"
		    "C,C,52.37,4.89,\nD,D,52.35,4.88,\nG,G,52.34,4.87,\n"
		    "F1,F1,52.38,4.90,\nF2,F2,52.38,4.90,\n"
		    "C1,Platform 1,52.37,4.89,C\n"},
	};
	struct tariff *t = tu_load_with("tests/tariffs-bad/base", f, 1);
	uint32_t c1 = tariff_stop(t, "C1", 2), g = tariff_stop(t, "G", 1);
	uint32_t centre = strtab_find(t->area_ids, "centre", 6);

	(void)state;
	assert_true(tariff_stop_in_area(t, c1, centre));
	assert_false(tariff_stop_in_area(t, g, centre));
	tariff_free(t);
}

/* The great-circle distance follows SPEC §4's formula, rounded half up. */
static void
test_haversine(void **state)
{
	(void)state;
	/* Mini's A -> C: the worked example's 834 m. */
	assert_int_equal(tariff_haversine_m(52.378901, 4.900272, 52.373080,
	    4.892530), 834);
	assert_int_equal(tariff_haversine_m(52.0, 5.0, 52.0, 5.0), 0);
}


static const char *const nl_files[] = {
	"agency.txt", "feed_info.txt", "stops.txt", "networks.txt",
	"areas.txt", "stop_areas.txt", "fare_media.txt", "fare_products.txt",
	"fare_leg_rules.txt", "fare_transfer_rules.txt",
	"fare_distance_rules.txt", "network_policies.txt", "fare_caps.txt",
	"stop_distances.txt",
};

/* One random edit: change, delete or insert bytes that matter to CSV. */
static void
mutate(char *s, size_t *len, uint64_t *rng)
{
	static const char pool[] = ",\"\n\r-.0123456789xZ;:\xc3\xa9 ";
	size_t pos = *len ? rng_next(rng) % *len : 0;
	unsigned op = (unsigned)(rng_next(rng) % 4);

	if (op == 0 && *len > 0)
		s[pos] = pool[rng_next(rng) % (sizeof pool - 1)];
	else if (op == 1 && *len > 0) {
		size_t n = 1 + rng_next(rng) % 16;
		if (pos + n > *len)
			n = *len - pos;
		memmove(s + pos, s + pos + n, *len - pos - n);
		*len -= n;
	} else if (op == 2) {
		memmove(s + pos + 1, s + pos, *len - pos);
		s[pos] = pool[rng_next(rng) % (sizeof pool - 1)];
		(*len)++;
	} else if (*len > 0) {
		/* Duplicate a line: exercises "listed twice" paths. */
		char *nl = memchr(s + pos, '\n', *len - pos);
		size_t start = pos, n;
		while (start > 0 && s[start - 1] != '\n')
			start--;
		n = nl ? (size_t)(nl - s) + 1 - start : *len - start;
		if (n < 512) {
			memmove(s + start + n, s + start, *len - start);
			*len += n;
		}
	}
}

/* Thousands of seeded corruptions: each load succeeds or reports why. */
static void
test_corruption_never_crashes(void **state)
{
	uint64_t rng = 20261128;
	char *dir = tu_tariff_dir(TU_NL, NULL, 0);
	int iter, failed = 0, loaded = 0;
	const int iters = getenv("ONECITY_CORRUPT_ITERS") ?
	    atoi(getenv("ONECITY_CORRUPT_ITERS")) : 2000;

	(void)state;
	for (iter = 0; iter < iters; iter++) {
		const char *name = nl_files[rng_next(&rng) % (sizeof nl_files /
		    sizeof nl_files[0])];
		char src[512], *orig, *s;
		size_t len, k, edits = 1 + rng_next(&rng) % 3;
		struct diag d;
		struct tariff *t;
		snprintf(src, sizeof src, "%s/%s", TU_NL, name);
		orig = read_text(src);
		len = strlen(orig);
		s = malloc(len + 64 * 520);
		memcpy(s, orig, len);
		for (k = 0; k < edits; k++)
			mutate(s, &len, &rng);
		s[len] = '\0';
		tu_write(dir, name, s);
		diag_init(&d);
		t = tariff_load(dir, &d);
		if (t == NULL) {
			failed++;
			if (d.n == 0)
				fail_msg("iteration %d: rejected with no "
				    "message (%s)", iter, name);
		} else
			loaded++;
		tariff_free(t);
		diag_free(&d);
		tu_write(dir, name, orig);
		free(orig);
		free(s);
	}
	print_message("corruption: %d loads, %d rejected with messages, %d "
	    "still valid\n", iters, failed, loaded);
	assert_true(failed > 0);
	tu_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_tariffs_load),
		cmocka_unit_test(test_nl_sample_shape),
		cmocka_unit_test(test_product_media_filtering),
		cmocka_unit_test(test_broken_tariffs),
		cmocka_unit_test(test_network_limit),
		cmocka_unit_test(test_parent_station_areas),
		cmocka_unit_test(test_haversine),
		cmocka_unit_test(test_corruption_never_crashes),
	};

	return cmocka_run_group_tests_name("tariff", tests, NULL, NULL);
}
