#include "build-info.h"

#include <faiss/impl/HNSW.h>
#include <faiss/utils/distances.h>

namespace pixelfind {

bool HnswHeapFixed() {
  faiss::HNSW::MinimaxHeap heap(2);
  heap.push(1, 1.0f);
  heap.pop_min();       // consumed: stays in the heap as its worst entry, with id -1
  heap.push(2, 0.5f);   // the heap is full now
  heap.push(3, 0.25f);  // evicts the consumed entry; the unpatched push counts it as valid and loses one
  return heap.size() == 2;
}

bool InnerProductUnrolled() {
  // Lane 0 of 32 floats sees 1e8, 1, -1e8, 1 (the rest are 0). Added in one chain,
  // ((1e8 + 1) - 1e8) + 1 = 1 in float (1e8 + 1 rounds to 1e8); as the patched kernel adds them,
  // four accumulators folded as (1e8 + 1) + (-1e8 + 1), the ones round away: 0.
  float x[32];
  float y[32] = {};
  for (float& value : x) value = 1.0f;
  y[0] = 1e8f;
  y[8] = 1.0f;
  y[16] = -1e8f;
  y[24] = 1.0f;
  return faiss::fvec_inner_product(x, y, 32) == 0.0f;
}

}  // namespace pixelfind
