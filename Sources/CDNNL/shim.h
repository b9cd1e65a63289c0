// Umbrella header for oneDNN's C API (Debian package libdnnl-dev).
#include <dnnl.h>
