// The allocator's own count of live bytes (glibc's mallinfo2), for memory reports: RSS also counts
// what the allocator keeps after frees.
#include "CKernels.h"
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
long sf_heap_in_use_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return (long)(info.uordblks + info.hblkhd);
}

void sf_heap_trim(void) { malloc_trim(0); }

void sf_heap_configure(long mmap_threshold, int arena_max) {
    mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    mallopt(M_ARENA_MAX, arena_max);
}
#else
void sf_heap_configure(long mmap_threshold, int arena_max) { (void)mmap_threshold; (void)arena_max; }
long sf_heap_in_use_bytes(void) { return 0; }
void sf_heap_trim(void) {}
#endif
