/* RFC 4180 reader: quoting, BOM, line ends, limits and error recovery. */
#include "testutil.h"
#include "csv.h"
#include "limits.h"

static struct csv *
open_str(const char *s)
{
	struct csv *c = csv_open_mem(s, strlen(s));

	assert_non_null(c);
	return c;
}

/* Quoted fields keep embedded commas, doubled quotes and line breaks. */
static void
test_quoted_fields(void **state)
{
	struct csv *c = open_str("a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\n");
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(r.nfields, 3);
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "x,1");
	assert_string_equal(r.field[1], "say \"hi\"");
	assert_string_equal(r.field[2], "two\nlines");
	assert_int_equal(r.line, 2);
	assert_int_equal(csv_next(c, &r), 0);
	csv_close(c);
}

/* A UTF-8 BOM is skipped; CRLF and LF both end records; blank lines skip. */
static void
test_bom_crlf_blank(void **state)
{
	struct csv *c = open_str("\xef\xbb\xbfid,name\r\n1,one\r\n\r\n2,two\n");
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "id");
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[1], "one");
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "2");
	assert_int_equal(r.line, 4);
	assert_int_equal(csv_next(c, &r), 0);
	csv_close(c);
}

/* The last record needs no line end; empty fields are kept. */
static void
test_no_final_newline_and_empty_fields(void **state)
{
	struct csv *c = open_str("a,,c");
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(r.nfields, 3);
	assert_string_equal(r.field[1], "");
	assert_string_equal(csv_field(&r, 7), "");
	assert_string_equal(csv_field(&r, -1), "");
	assert_int_equal(csv_next(c, &r), 0);
	csv_close(c);
}

/* Malformed records are reported with their line, and reading goes on. */
static void
test_errors_recover(void **state)
{
	struct csv *c = open_str("a,b\nx\"y,1\n\"q\"z,2\nok,3\n");
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(csv_next(c, &r), -1);
	assert_int_equal(r.line, 2);
	assert_string_equal(csv_error(c), "quote inside an unquoted field");
	assert_int_equal(csv_next(c, &r), -1);
	assert_int_equal(r.line, 3);
	assert_string_equal(csv_error(c),
	    "text after the closing quote of a field");
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "ok");
	csv_close(c);
}

/* An unclosed quote at the end of input is an error, not a hang. */
static void
test_unclosed_quote(void **state)
{
	struct csv *c = open_str("a\n\"never closed\n");
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(csv_next(c, &r), -1);
	assert_string_equal(csv_error(c), "quoted field not closed before the end");
	csv_close(c);
}

/* Records over the size limit and too many fields are refused. */
static void
test_limits(void **state)
{
	size_t n = LIMIT_CSV_RECORD + 10, i;
	char *big = malloc(n + 8);
	struct csv_record r;
	struct csv *c;

	(void)state;
	memset(big, 'x', n);
	memcpy(big + n, "\nok\n", 5);
	c = csv_open_mem(big, strlen(big));
	assert_int_equal(csv_next(c, &r), -1);
	assert_string_equal(csv_error(c), "record too long");
	assert_int_equal(csv_next(c, &r), 1);
	assert_string_equal(r.field[0], "ok");
	csv_close(c);
	for (i = 0; i < 200; i++)
		big[i] = i % 2 ? ',' : 'a';
	big[200] = '\n';
	big[201] = '\0';
	c = csv_open_mem(big, strlen(big));
	assert_int_equal(csv_next(c, &r), -1);
	assert_string_equal(csv_error(c), "too many fields in the record");
	csv_close(c);
	free(big);
}

/* A NUL byte is refused rather than silently cutting a field. */
static void
test_nul_byte(void **state)
{
	static const char data[] = "a,b\n1,\0x\n";
	struct csv *c = csv_open_mem(data, sizeof data - 1);
	struct csv_record r;

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(csv_next(c, &r), -1);
	assert_string_equal(csv_error(c), "NUL byte in the file");
	csv_close(c);
}

/* Header mapping finds columns in any order and reports duplicates. */
static void
test_header_map(void **state)
{
	static const char *const names[] = {"stop_id", "stop_lat", "nope"};
	struct csv *c = open_str("stop_lat,x,stop_id\nstop_id,stop_id\n");
	struct csv_record r;
	int idx[3];

	(void)state;
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(csv_header_map(&r, names, idx, 3), -1);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 0);
	assert_int_equal(idx[2], -1);
	assert_int_equal(csv_next(c, &r), 1);
	assert_int_equal(csv_header_map(&r, names, idx, 3), 1);
	csv_close(c);
}

/* Regression (found by fuzz_tariff): an empty file is the end, no UB. */
static void
test_empty_file(void **state)
{
	char path[] = "/tmp/onecity-empty-XXXXXX";
	int fd = mkstemp(path);
	struct csv_record r;
	struct csv *c;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	c = csv_open(path);
	assert_non_null(c);
	assert_int_equal(csv_next(c, &r), 0);
	csv_close(c);
	unlink(path);
	c = csv_open_mem(NULL, 0);
	assert_int_equal(csv_next(c, &r), 0);
	csv_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_fields),
		cmocka_unit_test(test_bom_crlf_blank),
		cmocka_unit_test(test_no_final_newline_and_empty_fields),
		cmocka_unit_test(test_errors_recover),
		cmocka_unit_test(test_unclosed_quote),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_header_map),
		cmocka_unit_test(test_empty_file),
	};

	return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
