/*
 * gen-tariff: a large synthetic tariff for load benchmarks: the rule files
 * of a small two-network tariff and N stops spread over the Netherlands.
 *
 *   gen-tariff --stops N DIR
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int
main(int argc, char **argv)
{
	unsigned long n = 1000000, i;
	const char *dir = NULL;
	char path[4096];
	uint64_t s = 42;
	FILE *f;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--stops") == 0 && a + 1 < argc)
			n = strtoul(argv[++a], NULL, 10);
		else
			dir = argv[a];
	}
	if (dir == NULL) {
		fprintf(stderr, "usage: gen-tariff --stops N DIR\n");
		return 2;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	if (put(dir, "agency.txt", "agency_id,agency_name,agency_timezone\n"
	    "B,Bench,Europe/Amsterdam\n") ||
	    put(dir, "networks.txt", "network_id,network_name\nBUS,Bus\n"
	    "TRAIN,Train\n") ||
	    put(dir, "fare_products.txt", "fare_product_id,amount,currency\n"
	    "b,1.08,EUR\nt,2.50,EUR\nbi,4.00,EUR\nti,20.00,EUR\n") ||
	    put(dir, "fare_leg_rules.txt", "leg_group_id,network_id,"
	    "fare_product_id\nbus,BUS,b\ntrain,TRAIN,t\n") ||
	    put(dir, "fare_distance_rules.txt", "network_id,from_distance_m,"
	    "per_km_amount\nBUS,0,0.187\nTRAIN,0,0.19\nTRAIN,40000,0.16\n") ||
	    put(dir, "network_policies.txt", "network_id,checkout_required,"
	    "incomplete_fare_product_id\nBUS,1,bi\nTRAIN,1,ti\n") ||
	    put(dir, "fare_caps.txt", "cap_id,cap_name,amount,currency,period,"
	    "network_id\nday,Day,17.50,EUR,day,\n")) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/stops.txt", dir);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		return 1;
	}
	fprintf(f, "stop_id,stop_name,stop_lat,stop_lon\n");
	for (i = 0; i < n; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		fprintf(f, "s%lu,Stop %lu,%.6f,%.6f\n", i, i,
		    50.75 + (double)(s >> 40) / (1 << 24) * 2.7,
		    3.36 + (double)(s >> 16 & 0xffffff) / (1 << 24) * 3.8);
	}
	return fclose(f) == 0 ? 0 : 1;
}
