#ifndef GANCL_COPENCL_SHIM_H
#define GANCL_COPENCL_SHIM_H
// OpenCL 1.2 is the newest version every vendor's driver implements (NVIDIA included);
// setting it silences the headers' warning and keeps us off 2.x/3.0-only entry points.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#endif
