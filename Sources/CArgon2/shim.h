#ifndef STOCKROOM_CARGON2_SHIM_H
#define STOCKROOM_CARGON2_SHIM_H
#include <argon2.h>
#endif
