import CKernels

// Winograd F(m×m, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2015) for stride-1 3×3 convolutions: each m×m block of outputs is computed from an
// (m+2)×(m+2) input tile with (m+2)² multiplications per channel pair instead of 9m², i.e.
// 2.25× fewer for m = 2 and 4× fewer for m = 4. The multiplications become (m+2)² GEMMs, one per
// tile position ξ: M[ξ] (tiles, K) = V[ξ] (tiles, C) · U[ξ] (C, K).
// Error (one 3×3 layer, max|err| / max|out| against Float64, numpy, He-scaled weights, ReLU
// inputs): m = 2 3.8e-7..7.2e-7, like direct float32 (3.0e-7..4.1e-7); m = 4 4.5e-6..1.4e-5.
// Whole networks against Keras stay near float32 noise: VGG16 @224 pooled features 4.0e-7 of
// max|keras| (im2col: 2.4e-7), ResNet50 3.8e-7 (4.6e-7); the worst parity reference 3.0e-6.
// `CompiledGraph.winogradTile` picks m per layer; `--no-winograd` turns it off.

extension Kernels {
    /// Whether `conv2dWinograd` computes this convolution: 3×3, stride 1, no dilation, one
    /// group, channels in multiples of 8 (the transforms' vector width).
    public static func winogradApplies(_ w: Window2D, outChannels: Int, groups: Int) -> Bool {
        w.kernelHeight == 3 && w.kernelWidth == 3 && w.strideHeight == 1 && w.strideWidth == 1
            && w.dilationHeight == 1 && w.dilationWidth == 1 && groups == 1
            && w.channels % 8 == 0 && outChannels % 8 == 0
    }

    /// The kernel transform U[ξ] = (G g G^T)[ξ] for every (c, k), in Double, rounded once
    /// (`ck_winograd_kernel`).
    /// kernel (3,3,C,K) HWIO -> U (a*a, C, K), a = m + 2
    public static func winogradKernel(
        _ kernel: [Float], channels C: Int, outChannels K: Int, tile m: Int
    ) -> [Float] {
        precondition(kernel.count == 9 * C * K, "kernel is not (3,3,\(C),\(K))")
        precondition(m == 2 || m == 4, "Winograd tile \(m) (2 or 4)")
        let a = m + 2
        let u = [Float](unsafeUninitializedCapacity: a * a * C * K) { b, n in
            ck_winograd_kernel(Int32(m), kernel, Int32(C), Int32(K), b.baseAddress!)
            n = a * a * C * K
        }
        return u
    }

    /// U[ξ] of `winogradKernel` as the a*a GEMMs' weights (packed once where `ck_gemm_packed`
    /// runs). U (a*a, C, K) -> a*a × (C, K)
    public static func winogradWeights(
        _ u: [Float], channels C: Int, outChannels K: Int, tile m: Int,
        pack: Bool = packedGemmAvailable
    ) -> [GemmWeights] {
        let a = m + 2
        precondition(u.count == a * a * C * K, "U is not (\(a * a), \(C), \(K))")
        return u.withUnsafeBufferPointer { p in
            (0..<(a * a)).map { GemmWeights(p.baseAddress! + $0 * C * K, rows: C, columns: K, pack: pack) }
        }
    }

    /// Tiles per block: whole rows of tiles, at least `minTiles` of them (or all). Every block
    /// reads all a*a U[ξ] (C×K each), so the GEMMs need many rows to repay streaming them; with
    /// cblas_sgemm (U above 1 MiB) each call also repacks U[ξ] (VGG16 F(4×4) with one 7-tile
    /// row per block: 34 % of the time in `sgemm_itcopy`). With the packed kernel 64 or 128
    /// tiles measured the same as 256 within noise (VGG16 213–238 ms per image).
    static func winogradBlockTiles(_ w: Window2D, outChannels K: Int, tile m: Int) -> Int {
        let tilesWide = (w.outWidth + m - 1) / m
        let tilesHigh = (w.outHeight + m - 1) / m
        let minTiles = 256
        let rows = min(tilesHigh, max(1, (minTiles + tilesWide - 1) / tilesWide))
        return rows * tilesWide
    }

    /// Floats of scratch `conv2dWinograd` needs for this layer.
    public static func winogradScratchCount(_ w: Window2D, outChannels K: Int, tile m: Int) -> Int {
        winogradBlockTiles(w, outChannels: K, tile: m) * (m + 2) * (m + 2) * (w.channels + K)
    }

    /// Same result as `conv2dNaive` for a window `winogradApplies` accepts, up to the
    /// algorithm's rounding (see the top of this file).
    /// in (N,H,W,C) * U (a*a,C,K) from `winogradWeights` + bias (K) -> out (N,OH,OW,K)
    /// Per block of tile rows: data transform into V, a*a GEMMs into M, output transform with
    /// bias and ReLU/ReLU6 into the output rows, other activations on those rows while in cache.
    /// `portable` runs the C transforms' non-AVX2 body and `blockRows` sets the tile rows per
    /// block (both for tests: the fallback on AVX2 machines, block edges on small images).
    public static func conv2dWinograd(
        _ input: UnsafePointer<Float>, window w: Window2D, transformedKernel u: [GemmWeights],
        tile m: Int, outChannels K: Int, bias: UnsafePointer<Float>?,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>? = nil, portable: Bool = false, blockRows: Int? = nil
    ) {
        precondition(winogradApplies(w, outChannels: K, groups: 1), "not a Winograd window: \(w)")
        let (H, W, C) = (w.height, w.width, w.channels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        let a = m + 2
        precondition(
            u.count == a * a && u.allSatisfy { $0.rows == C && $0.columns == K }, "U is not \(a * a) × (\(C), \(K))")
        let tilesWide = (OW + m - 1) / m
        let tiles = tilesWide * ((OH + m - 1) / m)
        let block = blockRows.map { $0 * tilesWide } ?? winogradBlockTiles(w, outChannels: K, tile: m)
        precondition(scratch == nil || blockRows == nil, "blockRows only with owned scratch")
        let owned: UnsafeMutablePointer<Float>? =
            scratch == nil ? .allocate(capacity: block * a * a * (C + K)) : nil
        defer { owned?.deallocate() }
        let v = scratch ?? owned!
        let mx = v + block * a * a * C
        let fused: ck_activation
        let after: Activation
        switch activation {
        case .linear: (fused, after) = (CK_LINEAR, .linear)
        case .relu: (fused, after) = (CK_RELU, .linear)
        case .relu6: (fused, after) = (CK_RELU6, .linear)
        default: (fused, after) = (CK_LINEAR, activation)
        }
        for n in 0..<w.batch {
            let image = input + n * H * W * C
            let out = output + n * OH * OW * K
            var first = 0
            while first < tiles {
                let count = min(block, tiles - first)
                ck_winograd_input(
                    Int32(m), image, Int32(H), Int32(W), Int32(C), Int32(w.padding.top),
                    Int32(w.padding.left), Int32(tilesWide), Int32(first), Int32(count), v, portable)
                for xi in 0..<(a * a) {
                    gemm(
                        m: count, a: v + xi * count * C, lda: C, weights: u[xi], bias: nil,
                        activation: .linear, c: mx + xi * count * K, ldc: K)
                }
                ck_winograd_output(
                    Int32(m), mx, Int32(K), bias, fused, out, Int32(OH), Int32(OW), Int32(tilesWide),
                    Int32(first), Int32(count), portable)
                if after != .linear {
                    // Blocks are whole tile rows: output rows first/tilesWide*m ..< +count/tilesWide*m.
                    let row0 = first / tilesWide * m
                    let rows = min(OH, (first + count) / tilesWide * m) - row0
                    after.apply(out + row0 * OW * K, count: rows * OW * K)
                }
                first += count
            }
        }
    }
}
