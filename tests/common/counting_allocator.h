#pragma once
// Counts every malloc, calloc, realloc and global operator new of the
// process. Link the ecq_test_counting_allocator object library into a test
// executable of its own to replace those functions there.

namespace ecq::test {

/// Returns the number of allocations since the program started.
long allocation_count();

}  // namespace ecq::test
