#ifndef CFAISS_H
#define CFAISS_H
// A C face for the part of faiss `extract neighbors --index ivf` uses. Debian's libfaiss-dev
// ships faiss as a static C++ library without its C API, so this target wraps the few calls
// (IndexIVFFlat over an IndexFlat quantizer) and turns faiss' exceptions into error text.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kf_ivf kf_ivf;

/// An inverted-file index of `d`-wide float rows in `nlist` lists; `inner_product`: ranked by
/// dot product (cosine on unit rows), else by squared Euclidean distance. NULL on failure, with
/// the reason in `error` (`error_size` bytes, always terminated).
kf_ivf *kf_ivf_create(int d, int nlist, int inner_product, char *error, size_t error_size);

/// k-means of the `n` rows into the lists (faiss' seed, so the same rows give the same lists),
/// then adds the `n` rows with ids 0..<n. `threads` bounds faiss' OpenMP threads. 0 on success.
int kf_ivf_train_add(kf_ivf *index, size_t n, const float *rows, int threads, char *error, size_t error_size);

/// For each of `nq` queries, its `k` best rows among those in its `nprobe` nearest lists:
/// `labels` (nq × k; -1 where fewer were found) and `distances` (nq × k: the dot product, or the
/// squared distance). 0 on success.
int kf_ivf_search(
    const kf_ivf *index, size_t nq, const float *queries, int k, int nprobe, int threads, float *distances,
    int64_t *labels, char *error, size_t error_size);

void kf_ivf_free(kf_ivf *index);

#ifdef __cplusplus
}
#endif

#endif
