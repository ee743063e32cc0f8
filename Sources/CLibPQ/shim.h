/* libpq, PostgreSQL's C client (Debian libpq-dev). Only SiftPostgres imports it. */
#include <libpq-fe.h>
