// Umbrella header for oneDNN's C API (Debian package libdnnl-dev), plus glibc's
// malloc tuning (mallopt), which Swift's Glibc module does not export.
#include <dnnl.h>
#if defined(__linux__)
#include <malloc.h>
#endif
