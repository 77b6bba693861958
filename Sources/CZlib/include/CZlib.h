#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

/// deflateInit2 and inflateInit2 are macros; Swift cannot call macros, so wrap them.
static inline int czlib_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int czlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
