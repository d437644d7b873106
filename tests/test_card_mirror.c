/*
 * The gateway's mirror of the `cards` bucket (engine/card-mirror.c):
 * what is put is found, a second put replaces, "" forgets, the bound
 * holds (a new card past it is refused with 1, a known one still
 * updates) and the table grows past its first size without losing any.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "card-mirror.h"

static void
token_of(unsigned i, char *tok)
{
	snprintf(tok, CARD_MIRROR_TOKEN, "%032x", i * 2654435761u);
}

static void
test_card_mirror_put_get(void **state)
{
	struct card_mirror *m = card_mirror_new(10);
	char par[CARD_MIRROR_PAR];

	(void)state;
	assert_non_null(m);
	assert_int_equal(card_mirror_get(m, "aa", par, sizeof par), 0);
	assert_int_equal(card_mirror_put(m, "aa", "PAR1"), 0);
	assert_int_equal(card_mirror_get(m, "aa", par, sizeof par), 1);
	assert_string_equal(par, "PAR1");
	assert_int_equal(card_mirror_put(m, "aa", "PAR0"), 0);
	assert_int_equal(card_mirror_get(m, "aa", par, sizeof par), 1);
	assert_string_equal(par, "PAR0");
	assert_int_equal(card_mirror_count(m), 1);
	/* Deleted in the bucket: not known any more. */
	assert_int_equal(card_mirror_put(m, "aa", ""), 0);
	assert_int_equal(card_mirror_get(m, "aa", par, sizeof par), 0);
	/* Too long: not recorded. */
	assert_int_equal(card_mirror_put(m, "0123456789abcdef0123456789abcdef0",
	    "P"), -1);
	assert_int_equal(card_mirror_put(m, "", "P"), -1);
	card_mirror_free(m);
}

static void
test_card_mirror_bound(void **state)
{
	struct card_mirror *m = card_mirror_new(3);
	char par[CARD_MIRROR_PAR];

	(void)state;
	assert_int_equal(card_mirror_put(m, "a", "P1"), 0);
	assert_int_equal(card_mirror_put(m, "b", "P2"), 0);
	assert_int_equal(card_mirror_put(m, "c", "P3"), 0);
	assert_int_equal(card_mirror_put(m, "d", "P4"), 1);
	assert_int_equal(card_mirror_get(m, "d", par, sizeof par), 0);
	assert_int_equal(card_mirror_put(m, "b", "P0"), 0);
	assert_int_equal(card_mirror_get(m, "b", par, sizeof par), 1);
	assert_string_equal(par, "P0");
	assert_int_equal(card_mirror_count(m), 3);
	card_mirror_free(m);
}

/* 100,000 cards: several doublings of a 16,384-slot table. */
static void
test_card_mirror_grows(void **state)
{
	struct card_mirror *m = card_mirror_new(1000000);
	char tok[CARD_MIRROR_TOKEN], par[CARD_MIRROR_PAR], want[32];
	unsigned i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		token_of(i, tok);
		snprintf(want, sizeof want, "PAR%u", i);
		assert_int_equal(card_mirror_put(m, tok, want), 0);
	}
	assert_int_equal(card_mirror_count(m), 100000);
	for (i = 0; i < 100000; i++) {
		token_of(i, tok);
		snprintf(want, sizeof want, "PAR%u", i);
		assert_int_equal(card_mirror_get(m, tok, par, sizeof par), 1);
		assert_string_equal(par, want);
	}
	token_of(100001, tok);
	assert_int_equal(card_mirror_get(m, tok, par, sizeof par), 0);
	card_mirror_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_card_mirror_put_get),
		cmocka_unit_test(test_card_mirror_bound),
		cmocka_unit_test(test_card_mirror_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
