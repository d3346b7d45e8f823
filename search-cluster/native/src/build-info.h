#pragma once

namespace pixelfind {

// Whether the linked FAISS has the HNSW candidate-heap fix (infra/faiss-patches/0001-hnsw-minimax-heap.patch,
// upstream in FAISS 1.7.4). Probed by running the library's own MinimaxHeap, not read from a label,
// so an addon linked against an old cache or Debian's generic library says so.
bool HnswHeapFixed();

}  // namespace pixelfind
