import CKernels

/// The right-hand matrix of a GEMM whose values are known at load time: a convolution's
/// (KH*KW*C, K) HWIO kernel, a pointwise (C, K) one, a Winograd U[ξ] (C, K).
/// (rows, columns) = (K, N) of `C (M, N) = A (M, K) · B (K, N)`.
/// On CPUs with AVX2 + FMA it is packed once, here, for `ck_gemm_packed` (which then never
/// copies it again); elsewhere it stays row-major for cblas_sgemm.
public struct GemmWeights: Sendable {
    public let rows: Int
    public let columns: Int
    /// `ck_gemm_pack`'s panels when `packed`, else row-major (rows, columns).
    let storage: [Float]
    public let packed: Bool

    public var count: Int { rows * columns }

    /// `matrix` row-major (rows, columns) with row stride `ld` (default `columns`).
    /// `callRows`: the GEMMs' M (output pixels per image) when known, for the packing choice.
    public init(
        _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int? = nil,
        pack: Bool = Kernels.packedGemmAvailable, callRows: Int? = nil
    ) {
        let ld = ld ?? columns
        precondition(rows > 0 && columns > 0 && ld >= columns, "GEMM weights (\(rows), \(columns)) ld \(ld)")
        self.rows = rows
        self.columns = columns
        packed =
            pack && Kernels.packedGemmAvailable
            && (rows * columns <= Kernels.packedGemmMaxFloats || (callRows ?? .max) <= Kernels.packedGemmFewRows)
        if packed {
            storage = [Float](unsafeUninitializedCapacity: ck_gemm_packed_count(Int32(rows), Int32(columns))) { b, n in
                ck_gemm_pack(matrix, ld, Int32(rows), Int32(columns), b.baseAddress!)
                n = b.count
            }
        } else {
            // Row copies, not a loop per float: debug builds (the tests) load whole backbones.
            storage = [Float](unsafeUninitializedCapacity: rows * columns) { b, n in
                for r in 0..<rows {
                    (b.baseAddress! + r * columns).initialize(from: matrix + r * ld, count: columns)
                }
                n = rows * columns
            }
        }
    }

    public init(
        _ matrix: [Float], rows: Int, columns: Int, pack: Bool = Kernels.packedGemmAvailable,
        callRows: Int? = nil
    ) {
        precondition(
            rows > 0 && matrix.count == rows * columns, "\(matrix.count) floats are not (\(rows), \(columns))")
        self = matrix.withUnsafeBufferPointer {
            GemmWeights($0.baseAddress!, rows: rows, columns: columns, pack: pack, callRows: callRows)
        }
    }

    /// Floats of `storage` (what `scaledRows` writes).
    public var storageCount: Int { storage.count }

    /// This matrix with row k multiplied by `scale[k]`, in this matrix's storage layout, into
    /// `out` (`storageCount` floats): the operand of `Kernels.gemm(m:a:lda:storage:like:...)`.
    /// `A · diag(s) · B` is how a squeeze-excite gate folds into the 1×1 convolution after it.
    public func scaledRows(_ scale: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        storage.withUnsafeBufferPointer { b in
            let src = b.baseAddress!
            if packed {
                // Panel q holds row k's 16 lanes at (q * rows + k) * 16.
                for q in 0..<(storage.count / (rows * 16)) {
                    for k in 0..<rows {
                        let at = (q * rows + k) * 16
                        let s = scale[k]
                        for lane in 0..<16 { out[at + lane] = src[at + lane] * s }
                    }
                }
            } else {
                for k in 0..<rows {
                    let s = scale[k]
                    for j in 0..<columns { out[k * columns + j] = src[k * columns + j] * s }
                }
            }
        }
    }

    /// The row-major matrix (unpacked again when packed), for tests and inspection.
    public var matrix: [Float] {
        guard packed else { return storage }
        var m = [Float](repeating: 0, count: rows * columns)
        for j in 0..<columns {
            let (q, lane) = (j / 16, j % 16)
            for r in 0..<rows { m[r * columns + j] = storage[(q * rows + r) * 16 + lane] }
        }
        return m
    }
}

extension Kernels {
    /// The largest weights (floats) `GemmWeights` packs. With the AVX2 body 1 MiB: beyond it
    /// `ck_gemm_packed`, which reads A in place, lost to OpenBLAS, which packs A as well
    /// (Xception's 728×728 pointwise at 19×19: 7.4 vs 5.9 ms; 1536×2048 at 10×10: 12.5 vs
    /// 9.8 ms), while below it it wins (64×128 at 147×147: 9.6 vs 13.5 ms; ResNet50 as a whole
    /// 124-126 vs 130-141 ms). The AVX-512 body's 12×32 tile wins at every size (Zen 5, one
    /// thread: Xception 167-175 -> 103-114 ms per image, ResNet50's conv4_block1_0_conv
    /// 2.1 -> 1.25 ms), so there everything is packed.
    public static let packedGemmMaxFloats = ck_has_avx512f() ? Int.max : 1 << 18

    /// ...except for GEMMs of at most this many rows (7×7 and 8×8 maps), where OpenBLAS's
    /// repacking of the whole kernel on every call costs about as much as the product
    /// (MobileNetV2's Conv_1, 320×1280 at 7×7: 0.63 -> 0.50 ms; block_16_project 0.48 -> 0.37).
    public static let packedGemmFewRows = 64

    /// Whether this CPU runs `ck_gemm_packed` (AVX2 + FMA).
    public static let packedGemmAvailable = ck_gemm_packed_available()

    /// C (m, columns) = act(A (m, rows) · B + bias (columns)) with B = `weights`: the GEMM of
    /// every convolution. A and C rows at strides lda and ldc.
    /// Packed weights run `ck_gemm_packed` with relu/relu6/sigmoid/swish applied as the tile is
    /// stored; plain ones cblas_sgemm on C prefilled with the bias (beta 1, no zeroing pass).
    /// Other activations (and every one after cblas_sgemm) run over C's rows afterwards, with
    /// the same bits.
    public static func gemm(
        m: Int, a: UnsafePointer<Float>, lda: Int, weights: GemmWeights,
        bias: UnsafePointer<Float>?, activation: Activation,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        weights.storage.withUnsafeBufferPointer { b in
            gemm(
                m: m, a: a, lda: lda, storage: b.baseAddress!, like: weights, bias: bias,
                activation: activation, c: c, ldc: ldc)
        }
    }

    /// `gemm` on B given as `storage` in the layout of `weights` (same rows, columns and
    /// packing), e.g. `weights.scaledRows(...)`.
    public static func gemm(
        m: Int, a: UnsafePointer<Float>, lda: Int, storage b: UnsafePointer<Float>,
        like weights: GemmWeights, bias: UnsafePointer<Float>?, activation: Activation,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0 else { return }
        let n = weights.columns
        var after = activation
        if weights.packed {
            let fused: ck_activation
            switch activation {
            case .relu: (fused, after) = (CK_RELU, .linear)
            case .relu6: (fused, after) = (CK_RELU6, .linear)
            case .sigmoid: (fused, after) = (CK_SIGMOID, .linear)
            case .swish: (fused, after) = (CK_SWISH, .linear)
            default: fused = CK_LINEAR
            }
            ck_gemm_packed(Int32(m), Int32(n), Int32(weights.rows), a, lda, b, bias, fused, c, ldc)
        } else {
            fillRows(c, rows: m, channels: n, stride: ldc, with: bias)
            matmul(
                m: m, n: n, k: weights.rows, a: a, lda: lda, b: b, ldb: n, c: c, ldc: ldc,
                accumulate: bias != nil)
        }
        if after == .linear { return }
        if ldc == n {
            after.apply(c, count: m * n)
        } else {
            for r in 0..<m { after.apply(c + r * ldc, count: n) }
        }
    }
}
