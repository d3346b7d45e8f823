#include "build-info.h"

#include <faiss/impl/HNSW.h>

namespace pixelfind {

bool HnswHeapFixed() {
  faiss::HNSW::MinimaxHeap heap(2);
  heap.push(1, 1.0f);
  heap.pop_min();       // consumed: stays in the heap as its worst entry, with id -1
  heap.push(2, 0.5f);   // the heap is full now
  heap.push(3, 0.25f);  // evicts the consumed entry; the unpatched push counts it as valid and loses one
  return heap.size() == 2;
}

}  // namespace pixelfind
