/* migrations.h - the SQL migration files, embedded in the binary by tools/embed-sql.sh. */
#ifndef BS_MIGRATIONS_H
#define BS_MIGRATIONS_H

#include <stddef.h>

struct bs_migration {
	const char *name; /* file name; recorded in schema_migrations once applied */
	const char *sql;
};

extern const struct bs_migration bs_migrations[]; /* in name order */
extern const size_t bs_migrations_count;

#endif
