// zlib is linked from the system; see include/CZlib.h.
