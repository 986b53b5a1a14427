// Which library computes our backbones' convolutions fastest on this CPU?
//
// Runs every convolution of ResNet50 and VGG16 at 224 (the real layer shapes, NHWC float32,
// the layout our executor keeps) three ways and prints the total time per model:
//   openblas  im2col + cblas_sgemm from OpenBLAS (what Backbones does today)
//   blis      the same im2col + cblas_sgemm from BLIS
//   onednn    oneDNN's convolution primitive, NHWC activations, weights reordered once into the
//             format it prefers (what TensorFlow uses underneath), direct and Winograd
//   packed    the same im2col + the project's ck_gemm_packed (Sources/CKernels/gemm.c), the
//             weights packed once outside the timing (as the planner packs them at load time;
//             it packs only weights up to 1 MiB, where this kernel beats OpenBLAS)
// The two BLAS libraries both export cblas_sgemm, so each is dlopen'ed privately.
// Build and run: Benchmarks/ConvLibraries/run.sh
#define _GNU_SOURCE
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"

typedef struct { const char *name; int h, w, c, k, kh, kw, s, pt, pl, pb, pr, count; } Layer;

// ResNet50 (Keras resnet.py, 224): conv1 runs on the 230×230 ZeroPadding2D output.
static const Layer resnet50[] = {
    {"conv1", 230, 230, 3, 64, 7, 7, 2, 0, 0, 0, 0, 1},
    {"conv2_block1_0", 56, 56, 64, 256, 1, 1, 1, 0, 0, 0, 0, 1},
    {"conv2_block1_1", 56, 56, 64, 64, 1, 1, 1, 0, 0, 0, 0, 1},
    {"conv2_x_2", 56, 56, 64, 64, 3, 3, 1, 1, 1, 1, 1, 3},
    {"conv2_x_3", 56, 56, 64, 256, 1, 1, 1, 0, 0, 0, 0, 3},
    {"conv2_x_1", 56, 56, 256, 64, 1, 1, 1, 0, 0, 0, 0, 2},
    {"conv3_block1_0", 56, 56, 256, 512, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv3_block1_1", 56, 56, 256, 128, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv3_x_2", 28, 28, 128, 128, 3, 3, 1, 1, 1, 1, 1, 4},
    {"conv3_x_3", 28, 28, 128, 512, 1, 1, 1, 0, 0, 0, 0, 4},
    {"conv3_x_1", 28, 28, 512, 128, 1, 1, 1, 0, 0, 0, 0, 3},
    {"conv4_block1_0", 28, 28, 512, 1024, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv4_block1_1", 28, 28, 512, 256, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv4_x_2", 14, 14, 256, 256, 3, 3, 1, 1, 1, 1, 1, 6},
    {"conv4_x_3", 14, 14, 256, 1024, 1, 1, 1, 0, 0, 0, 0, 6},
    {"conv4_x_1", 14, 14, 1024, 256, 1, 1, 1, 0, 0, 0, 0, 5},
    {"conv5_block1_0", 14, 14, 1024, 2048, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv5_block1_1", 14, 14, 1024, 512, 1, 1, 2, 0, 0, 0, 0, 1},
    {"conv5_x_2", 7, 7, 512, 512, 3, 3, 1, 1, 1, 1, 1, 3},
    {"conv5_x_3", 7, 7, 512, 2048, 1, 1, 1, 0, 0, 0, 0, 3},
    {"conv5_x_1", 7, 7, 2048, 512, 1, 1, 1, 0, 0, 0, 0, 2},
    {0}};

static const Layer vgg16[] = {
    {"block1_conv1", 224, 224, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block1_conv2", 224, 224, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block2_conv1", 112, 112, 64, 128, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block2_conv2", 112, 112, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block3_conv1", 56, 56, 128, 256, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block3_conv23", 56, 56, 256, 256, 3, 3, 1, 1, 1, 1, 1, 2},
    {"block4_conv1", 28, 28, 256, 512, 3, 3, 1, 1, 1, 1, 1, 1},
    {"block4_conv23", 28, 28, 512, 512, 3, 3, 1, 1, 1, 1, 1, 2},
    {"block5_conv123", 14, 14, 512, 512, 3, 3, 1, 1, 1, 1, 1, 3},
    {0}};

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
enum { RowMajor = 101, NoTrans = 111 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int out_size(int in, int k, int s, int p0, int p1) { return (in + p0 + p1 - k) / s + 1; }

static float *random_floats(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) { seed = seed * 1664525u + 1013904223u; p[i] = (seed >> 8) / 16777216.0f - 0.5f; }
    return p;
}

static double conv_gemm_layer(sgemm_fn sgemm, int packed, const Layer *l, int n, int reps);

// im2col + GEMM, the way Kernels.conv2d does it (no copy for 1×1 stride 1).
static double gemm_layer(sgemm_fn sgemm, const Layer *l, int n, int reps) {
    return conv_gemm_layer(sgemm, 0, l, n, reps);
}

static double packed_layer(const Layer *l, int n, int reps) {
    return ck_gemm_packed_available() ? conv_gemm_layer(NULL, 1, l, n, reps) : -1;
}

static double conv_gemm_layer(sgemm_fn sgemm, int packed, const Layer *l, int n, int reps) {
    int oh = out_size(l->h, l->kh, l->s, l->pt, l->pb), ow = out_size(l->w, l->kw, l->s, l->pl, l->pr);
    int m = n * oh * ow, kk = l->kh * l->kw * l->c;
    float *x = random_floats((size_t)n * l->h * l->w * l->c, 1), *wt = random_floats((size_t)kk * l->k, 2);
    float *y = malloc((size_t)m * l->k * sizeof(float));
    int direct = l->kh == 1 && l->kw == 1 && l->s == 1;
    float *col = direct ? NULL : malloc((size_t)m * kk * sizeof(float));
    float *wp = NULL;
    if (packed) {
        wp = malloc(ck_gemm_packed_count(kk, l->k) * sizeof(float));
        ck_gemm_pack(wt, l->k, kk, l->k, wp);
    }
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t = now();
        if (!direct) {
            for (int b = 0; b < n; b++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        float *dst = col + ((size_t)(b * oh + i) * ow + j) * kk;
                        for (int a = 0; a < l->kh; a++)
                            for (int c = 0; c < l->kw; c++, dst += l->c) {
                                int ih = i * l->s - l->pt + a, iw = j * l->s - l->pl + c;
                                if (ih < 0 || ih >= l->h || iw < 0 || iw >= l->w) memset(dst, 0, l->c * sizeof(float));
                                else memcpy(dst, x + (((size_t)b * l->h + ih) * l->w + iw) * l->c, l->c * sizeof(float));
                            }
                    }
        }
        if (packed)
            ck_gemm_packed(m, l->k, kk, direct ? x : col, kk, wp, NULL, CK_LINEAR, y, l->k);
        else
            sgemm(RowMajor, NoTrans, NoTrans, m, l->k, kk, 1.0f, direct ? x : col, kk, wt, l->k, 0.0f, y, l->k);
        t = now() - t;
        if (t < best) best = t;
    }
    free(x); free(wt); free(y); free(col); free(wp);
    return best;
}

#define CHECK(f) do { dnnl_status_t s_ = (f); if (s_ != dnnl_success) { fprintf(stderr, "%s: %d\n", #f, s_); return -1; } } while (0)

static double onednn_layer(dnnl_engine_t eng, dnnl_stream_t st, const Layer *l, int n, int reps, dnnl_alg_kind_t alg, char *impl, size_t implsz) {
    int oh = out_size(l->h, l->kh, l->s, l->pt, l->pb), ow = out_size(l->w, l->kw, l->s, l->pl, l->pr);
    dnnl_dims_t sd = {n, l->c, l->h, l->w}, wd = {l->k, l->c, l->kh, l->kw}, bd = {l->k}, dd = {n, l->k, oh, ow};
    dnnl_dims_t strides = {l->s, l->s}, pl = {l->pt, l->pl}, pr = {l->pb, l->pr};
    dnnl_memory_desc_t src_md, wany_md, whwio_md, b_md, dst_md;
    CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_nhwc));
    CHECK(dnnl_memory_desc_init_by_tag(&wany_md, 4, wd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&whwio_md, 4, wd, dnnl_f32, dnnl_hwio));
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_nhwc));
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, alg, &src_md, &wany_md, &b_md, &dst_md, strides, pl, pr));
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) != dnnl_success) return -1;
    const char *name = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    snprintf(impl, implsz, "%s", name ? name : "?");
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    float *x = random_floats((size_t)n * l->h * l->w * l->c, 1), *wt = random_floats((size_t)l->kh * l->kw * l->c * l->k, 2);
    float *bias = random_floats(l->k, 3);
    dnnl_memory_t src, w_user, w, b, dst;
    CHECK(dnnl_memory_create(&src, &src_md, eng, x));
    CHECK(dnnl_memory_create(&w_user, &whwio_md, eng, wt));
    CHECK(dnnl_memory_create(&w, wmd, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&b, &b_md, eng, bias));
    CHECK(dnnl_memory_create(&dst, &dst_md, eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder, conv;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &whwio_md, eng, wmd, eng, NULL));
    CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, w_user}, {DNNL_ARG_TO, w}};
    CHECK(dnnl_primitive_execute(reorder, st, 2, rargs));
    CHECK(dnnl_stream_wait(st));
    CHECK(dnnl_primitive_create(&conv, pd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}};
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        double t = now();
        CHECK(dnnl_primitive_execute(conv, st, 4, args));
        CHECK(dnnl_stream_wait(st));
        t = now() - t;
        if (t < best) best = t;
    }
    dnnl_primitive_destroy(conv); dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd); dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(src); dnnl_memory_destroy(w_user); dnnl_memory_destroy(w); dnnl_memory_destroy(b); dnnl_memory_destroy(dst);
    free(x); free(wt); free(bias);
    return best;
}

static double flops(const Layer *l, int n) {
    int oh = out_size(l->h, l->kh, l->s, l->pt, l->pb), ow = out_size(l->w, l->kw, l->s, l->pl, l->pr);
    return 2.0 * n * oh * ow * l->k * l->kh * l->kw * l->c * l->count;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int verbose = argc > 2;
    void *ob = dlopen("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    void *bl = dlopen("/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4", RTLD_NOW | RTLD_LOCAL);
    sgemm_fn openblas = ob ? (sgemm_fn)dlsym(ob, "cblas_sgemm") : NULL;
    sgemm_fn blis = bl ? (sgemm_fn)dlsym(bl, "cblas_sgemm") : NULL;
    dnnl_engine_t eng; dnnl_stream_t st;
    dnnl_engine_create(&eng, dnnl_cpu, 0);
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    const struct { const char *name; const Layer *layers; } models[] = {{"ResNet50", resnet50}, {"VGG16", vgg16}};
    int batches[] = {1, 8};
    printf("%-9s %5s %10s %10s %10s %10s %10s  (ms per batch; GFLOP/s in brackets; best of %d)\n",
           "model", "batch", "openblas", "blis", "onednn", "onednn-wino", "packed", reps);
    for (int mi = 0; mi < 2; mi++)
        for (int bi = 0; bi < 2; bi++) {
            int n = batches[bi];
            double t[5] = {0}, fl = 0;
            for (const Layer *l = models[mi].layers; l->name; l++) {
                char impl[128] = "", implw[128] = "";
                double a = openblas ? gemm_layer(openblas, l, n, reps) : -1;
                double b = blis ? gemm_layer(blis, l, n, reps) : -1;
                double c = onednn_layer(eng, st, l, n, reps, dnnl_convolution_direct, impl, sizeof impl);
                double d = onednn_layer(eng, st, l, n, reps, dnnl_convolution_winograd, implw, sizeof implw);
                if (d < 0) d = c;
                double e = packed_layer(l, n, reps);
                t[0] += a * l->count; t[1] += b * l->count; t[2] += c * l->count; t[3] += d * l->count;
                t[4] += e * l->count;
                fl += flops(l, n);
                if (verbose)
                    printf("  %-16s b%d  %8.2f %8.2f %8.2f %8.2f %8.2f ms  %s%s%s\n", l->name, n, a * 1e3, b * 1e3, c * 1e3, d * 1e3, e * 1e3,
                           impl, d != c ? " / " : "", d != c ? implw : "");
            }
            printf("%-9s %5d", models[mi].name, n);
            for (int i = 0; i < 5; i++) printf(" %6.1f [%3.0f]", t[i] * 1e3, fl / t[i] / 1e9);
            printf("\n");
            fflush(stdout);
        }
    return 0;
}
