#include <protobuf-c/protobuf-c.h>

/* protobuf-c's shared empty string (the default of proto3 string fields); Swift does
   not import arrays of unknown size, so it is reached through this function. */
static inline const char *ultracore_protobuf_c_empty_string(void) { return protobuf_c_empty_string; }
