#ifndef STOCKROOM_CMARIADB_SHIM_H
#define STOCKROOM_CMARIADB_SHIM_H
#include <stddef.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

/* Option setters take values, not pointers: Connector/C reads `unsigned int` and
   `my_bool` options through void*, and a Swift Int would be the wrong width. */
static inline int stockroom_mysql_set_uint_option(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_optionsv(mysql, option, (const void *)&value);
}
static inline int stockroom_mysql_set_bool_option(MYSQL *mysql, enum mysql_option option, int value) {
    my_bool flag = value ? 1 : 0;
    return mysql_optionsv(mysql, option, (const void *)&flag);
}
static inline int stockroom_mysql_set_string_option(MYSQL *mysql, enum mysql_option option, const char *value) {
    return mysql_optionsv(mysql, option, (const void *)value);
}
static inline int stockroom_stmt_set_update_max_length(MYSQL_STMT *stmt) {
    my_bool flag = 1;
    return mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &flag);
}
/* mysql_library_init is a macro. */
static inline int stockroom_mysql_library_init(void) { return mysql_server_init(0, NULL, NULL); }
#endif
