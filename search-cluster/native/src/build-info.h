#pragma once

namespace pixelfind {

// Whether the linked FAISS has the HNSW candidate-heap fix (infra/faiss-patches/0001-hnsw-minimax-heap.patch,
// upstream in FAISS 1.7.4). Probed by running the library's own MinimaxHeap, not read from a label,
// so an addon linked against an old cache or Debian's generic library says so.
bool HnswHeapFixed();

// Whether the linked FAISS sums inner products in four accumulators (infra/faiss-patches/
// 0002-unrolled-inner-product.patch), told by the rounding of a sum whose result depends on the
// order of its adds.
bool InnerProductUnrolled();

}  // namespace pixelfind
