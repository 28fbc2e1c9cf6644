#include <zlib.h>

/* deflateInit2 and inflateInit2 are macros; these call the functions behind them. */
static inline int czlib_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2_(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z_stream));
}
static inline int czlib_inflate_init_gzip(z_stream *s) {
    return inflateInit2_(s, 15 + 16, ZLIB_VERSION, (int)sizeof(z_stream));
}
