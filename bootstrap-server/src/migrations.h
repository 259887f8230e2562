/* migrations.h - the SQL migration files, embedded in the binary by tools/embed-files.sh. */
#ifndef BS_MIGRATIONS_H
#define BS_MIGRATIONS_H

#include "fb/embed.h"

/* In name order; a name is recorded in schema_migrations once applied. */
extern const struct cm_embedded bs_migrations[];
extern const size_t bs_migrations_count;

#endif
