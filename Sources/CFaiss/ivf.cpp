// See CFaiss.h. Every entry point catches what faiss throws (FaissException, bad_alloc) so no
// C++ exception crosses into Swift.

#include "CFaiss.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <cstdio>
#include <exception>
#include <memory>

// libgomp's, which faiss runs on (Swift's clang does not see GCC's omp.h).
extern "C" void omp_set_num_threads(int);

struct kf_ivf {
    std::unique_ptr<faiss::IndexFlat> quantizer;
    std::unique_ptr<faiss::IndexIVFFlat> index;
};

static void report(const std::exception &e, char *error, size_t size) {
    if (size > 0) std::snprintf(error, size, "%s", e.what());
}

kf_ivf *kf_ivf_create(int d, int nlist, int inner_product, char *error, size_t error_size) {
    try {
        auto metric = inner_product ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
        auto made = std::make_unique<kf_ivf>();
        made->quantizer = std::make_unique<faiss::IndexFlat>(d, metric);
        made->index = std::make_unique<faiss::IndexIVFFlat>(made->quantizer.get(), d, nlist, metric);
        return made.release();
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return nullptr;
    }
}

int kf_ivf_train_add(kf_ivf *index, size_t n, const float *rows, int threads, char *error, size_t error_size) {
    try {
        omp_set_num_threads(threads > 0 ? threads : 1);
        index->index->cp.verbose = false;
        // The caller chooses the lists (at least 39 rows each by default); faiss would print a
        // warning to stderr for fewer.
        index->index->cp.min_points_per_centroid = 1;
        index->index->train((faiss::Index::idx_t)n, rows);
        index->index->add((faiss::Index::idx_t)n, rows);
        return 0;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return -1;
    }
}

int kf_ivf_search(
    const kf_ivf *index, size_t nq, const float *queries, int k, int nprobe, int threads, float *distances,
    int64_t *labels, char *error, size_t error_size) {
    try {
        omp_set_num_threads(threads > 0 ? threads : 1);
        faiss::SearchParametersIVF params;
        params.nprobe = nprobe;
        index->index->search((faiss::Index::idx_t)nq, queries, k, distances, (faiss::Index::idx_t *)labels, &params);
        return 0;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return -1;
    }
}

void kf_ivf_free(kf_ivf *index) { delete index; }
