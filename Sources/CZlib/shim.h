#ifndef GANCL_CZLIB_SHIM_H
#define GANCL_CZLIB_SHIM_H
#include <zlib.h>
#endif
