#ifndef GANCL_CPNG_SHIM_H
#define GANCL_CPNG_SHIM_H
// libpng's simplified API (png_image_*): no setjmp/longjmp error handling to bridge.
#include <png.h>
#endif
