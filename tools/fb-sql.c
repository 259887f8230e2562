/*
 * fb-sql.c - prints the SQL the bootstrap server sends on its hot paths
 * (bootstrap-server/src/sql.h), so benchmarks replay exactly those statements.
 */
#include <stdio.h>
#include <string.h>

#include "sql.h"

static const struct {
	const char *name;
	const char *text;
} statements[] = {
    {"pin-read", BS_SQL_PIN_READ},
    {"pin-insert", BS_SQL_PIN_INSERT},
    {"register", BS_SQL_REGISTER},
    {"heartbeat", BS_SQL_HEARTBEAT},
    {"heartbeat-pinned", BS_SQL_HEARTBEAT_PINNED},
    {"list-scored", BS_SQL_LIST_SCORED},
    {"list-sample", BS_SQL_LIST_SAMPLE},
    {"whitelist-check", BS_SQL_WHITELIST_CHECK},
};

int
main(int argc, char **argv)
{
	size_t n = sizeof(statements) / sizeof(statements[0]);

	if (argc == 2 && strcmp(argv[1], "--list") != 0 && strcmp(argv[1], "--help") != 0) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(argv[1], statements[i].name) == 0) {
				printf("%s\n", statements[i].text);
				return 0;
			}
		}
		fprintf(stderr, "fb-sql: no statement named '%s' (try --list)\n", argv[1]);
		return 1;
	}
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", statements[i].name);
		return 0;
	}
	fprintf(argc == 2 ? stdout : stderr,
	        "usage: fb-sql NAME | --list\nPrints a statement the bootstrap server runs, with "
	        "its $n parameters.\n");
	return argc == 2 ? 0 : 2;
}
