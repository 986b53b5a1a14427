extension Kernels {
    /// Keras `Conv2D` (cross-correlation, no flip), optional bias, then the activation.
    /// in (N,H,W,C) * kernel (KH,KW,C/groups,K) HWIO + bias (K) -> out (N,OH,OW,K)
    /// Output channel `o` belongs to group `o / (K/groups)` and reads that group's input channels.
    /// Accumulates in Double: this is the reference the fast kernel is tested against.
    public static func conv2dNaive(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, outChannels: Int, groups: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        checkGroups(w, outChannels: outChannels, groups: groups)
        let (H, W, C, K) = (w.height, w.width, w.channels, outChannels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        let cg = C / groups
        let kg = K / groups
        for n in 0..<w.batch {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    for o in 0..<K {
                        let g = o / kg
                        var sum = Double(bias?[o] ?? 0)
                        for kh in 0..<w.kernelHeight {
                            let ih = oh * w.strideHeight - w.padding.top + kh * w.dilationHeight
                            if ih < 0 || ih >= H { continue }
                            for kw in 0..<w.kernelWidth {
                                let iw =
                                    ow * w.strideWidth - w.padding.left + kw * w.dilationWidth
                                if iw < 0 || iw >= W { continue }
                                for ci in 0..<cg {
                                    let x = input[((n * H + ih) * W + iw) * C + g * cg + ci]
                                    let k = kernel[((kh * w.kernelWidth + kw) * cg + ci) * K + o]
                                    sum += Double(x) * Double(k)
                                }
                            }
                        }
                        output[((n * OH + oh) * OW + ow) * K + o] = activation(Float(sum))
                    }
                }
            }
        }
    }

    /// Floats of scratch `conv2d` needs for this layer (0 when it needs none). Allocate it once
    /// per executor (the largest over all layers) and pass it to every call.
    public static func conv2dScratchCount(
        window w: Window2D, outChannels: Int, groups: Int = 1
    ) -> Int {
        if w.isPointwise || routesToDepthwise(w, groups: groups) { return 0 }
        let patch = w.kernelHeight * w.kernelWidth * (w.channels / groups)
        return conv2dTileRows(patch: patch, pixels: w.outPixels) * patch * groups
    }

    /// Output pixels per im2col tile: about 256 KiB of patches, so a tile stays in L2 while the
    /// GEMM reads it and the epilogue rewrites its output rows, but at least 256: OpenBLAS
    /// repacks the whole kernel on every call, and with a 4608-value patch (3×3×512) 256 KiB is
    /// 14 rows, so VGG16's block4 spent more time copying its kernel than multiplying. A map of
    /// at most two tiles is one: InceptionV3's 17×17 maps (289 pixels) were a 256-row tile and a
    /// 33-row one, two passes over the kernel for one, and its 7×1 and 1×7 ran 8 % slower.
    static func conv2dTileRows(patch: Int, pixels: Int) -> Int {
        let rows = max(256, (1 << 16) / max(patch, 1))
        return max(pixels <= 2 * rows ? pixels : rows, 1)
    }

    /// The kernel of `conv2d` for this layer: (KH*KW*C/groups, K), packed for
    /// `ck_gemm_packed` when there is one group (grouped and depthwise convolutions read it
    /// plain). Made once at load time.
    public static func conv2dWeights(
        _ kernel: UnsafePointer<Float>, window w: Window2D, outChannels: Int, groups: Int = 1
    ) -> GemmWeights {
        GemmWeights(
            kernel, rows: w.kernelHeight * w.kernelWidth * (w.channels / groups),
            columns: outChannels, pack: groups == 1, callRows: w.outPixels)
    }

    /// `conv2d` with the kernel given as its HWIO floats (packed for this call).
    public static func conv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, outChannels: Int, groups: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>? = nil
    ) {
        conv2d(
            input, window: w,
            kernel: conv2dWeights(kernel, window: w, outChannels: outChannels, groups: groups),
            outChannels: outChannels, groups: groups, bias: bias, activation: activation,
            output: output, scratch: scratch)
    }

    /// Same result as `conv2dNaive`, computed as GEMMs.
    /// in (N,H,W,C) * kernel (KH,KW,C/groups,K) HWIO + bias (K) -> out (N,OH,OW,K)
    /// Trick: NHWC rows are GEMM rows. A 1×1 stride-1 unpadded conv is one GEMM straight on
    /// the input buffer (M = N*H*W, K = C, N = K, no copy). Otherwise a tile of output pixels
    /// is unfolded into `scratch` (im2col: one row of KH*KW*C/groups patch values per pixel,
    /// laid out like the HWIO kernel's rows) and multiplied by the kernel into the output
    /// tile, bias and activation applied while the tile is in cache (`gemm`).
    /// Grouped convolutions run one cblas_sgemm per group on the plain kernel; `groups == C`
    /// (ConvNeXt's 7×7) goes to the depthwise kernel: a (KH,KW,1,C*M) grouped kernel has the
    /// same memory layout as a (KH,KW,C,M) depthwise one.
    /// `kernel` is `conv2dWeights(...)`; `scratch` holds `conv2dScratchCount(...)` floats (nil
    /// allocates it for this call only).
    public static func conv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: GemmWeights, outChannels: Int, groups: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>? = nil
    ) {
        checkGroups(w, outChannels: outChannels, groups: groups)
        let (C, K) = (w.channels, outChannels)
        let cg = C / groups
        let kg = K / groups
        let patch = w.kernelHeight * w.kernelWidth * cg
        precondition(
            kernel.rows == patch && kernel.columns == K && (groups == 1 || !kernel.packed),
            "conv2d kernel (\(kernel.rows), \(kernel.columns)) packed \(kernel.packed) for \(w)")
        let pixels = w.outPixels
        if pixels == 0 { return }

        if routesToDepthwise(w, groups: groups) {
            kernel.storage.withUnsafeBufferPointer { k in
                depthwiseConv2d(
                    input, window: w, kernel: k.baseAddress!, depthMultiplier: kg, bias: bias,
                    activation: activation, output: output)
            }
            return
        }

        // `rows` output pixels whose GEMM rows (group 0's, for groups > 1) start at `a`.
        func multiply(
            rows: Int, a: UnsafePointer<Float>, lda: Int, groupStride: Int,
            into out: UnsafeMutablePointer<Float>
        ) {
            if groups == 1 {
                gemm(
                    m: rows, a: a, lda: lda, weights: kernel, bias: bias, activation: activation,
                    c: out, ldc: K)
                return
            }
            // The bias is written first and each group's GEMM adds to it (beta 1).
            fillRows(out, rows: rows, channels: K, with: bias)
            kernel.storage.withUnsafeBufferPointer { b in
                for g in 0..<groups {
                    matmul(
                        m: rows, n: kg, k: patch, a: a + g * groupStride, lda: lda,
                        b: b.baseAddress! + g * kg, ldb: K, c: out + g * kg, ldc: K,
                        accumulate: bias != nil)
                }
            }
            activation.apply(out, count: rows * K)
        }

        if w.isPointwise {
            multiply(rows: pixels, a: input, lda: C, groupStride: cg, into: output)
            return
        }

        let tileRows = conv2dTileRows(patch: patch, pixels: pixels)
        // One im2col tile per group (their GEMMs share the output tile).
        let ownedScratch: UnsafeMutablePointer<Float>? =
            scratch == nil ? .allocate(capacity: tileRows * patch * groups) : nil
        defer { ownedScratch?.deallocate() }
        let columns = scratch ?? ownedScratch!

        var start = 0
        while start < pixels {
            let rows = min(tileRows, pixels - start)
            for g in 0..<groups {
                im2col(
                    input, window: w, group: g, groups: groups, firstPixel: start, rows: rows,
                    columns: columns + g * rows * patch)
            }
            multiply(
                rows: rows, a: columns, lda: patch, groupStride: rows * patch,
                into: output + start * K)
            start += rows
        }
    }

    /// Unfolds output pixels `firstPixel ..< firstPixel+rows` of group `group` into
    /// `columns` (rows, KH*KW*C/groups); taps that fall in the padding are zeros.
    static func im2col(
        _ input: UnsafePointer<Float>, window w: Window2D, group: Int, groups: Int,
        firstPixel: Int, rows: Int, columns: UnsafeMutablePointer<Float>
    ) {
        let (H, W, C) = (w.height, w.width, w.channels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        let (KH, KW) = (w.kernelHeight, w.kernelWidth)
        let cg = C / groups
        let rowLength = KW * cg
        let patch = KH * rowLength
        // With one group and no horizontal dilation the taps of one kernel row are adjacent
        // pixels, i.e. one contiguous run of the input.
        let contiguousRow = groups == 1 && w.dilationWidth == 1
        for i in 0..<rows {
            let pixel = firstPixel + i
            let n = pixel / (OH * OW)
            let oh = (pixel / OW) % OH
            let ow = pixel % OW
            let dst = columns + i * patch
            let r = w.validRows(oh)
            let c = w.validColumns(ow)
            if r.lo > 0 { dst.update(repeating: 0, count: r.lo * rowLength) }
            if r.hi < KH {
                (dst + r.hi * rowLength).update(repeating: 0, count: (KH - r.hi) * rowLength)
            }
            for kh in r.lo..<r.hi {
                let ih = r.first + kh * w.dilationHeight
                let src = input + ((n * H + ih) * W) * C + group * cg
                let rowDst = dst + kh * rowLength
                if c.lo > 0 { rowDst.update(repeating: 0, count: c.lo * cg) }
                if c.hi < KW { (rowDst + c.hi * cg).update(repeating: 0, count: (KW - c.hi) * cg) }
                if contiguousRow {
                    (rowDst + c.lo * cg).update(
                        from: src + (c.first + c.lo) * C, count: (c.hi - c.lo) * cg)
                } else {
                    for kw in c.lo..<c.hi {
                        let iw = c.first + kw * w.dilationWidth
                        (rowDst + kw * cg).update(from: src + iw * C, count: cg)
                    }
                }
            }
        }
    }

    /// Each of the `rows` rows of `x` (rows, C), `stride` floats apart (default C), := bias (C);
    /// nothing without a bias (the GEMM then overwrites with beta 0).
    @inline(__always)
    static func fillRows(
        _ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int, stride: Int? = nil,
        with bias: UnsafePointer<Float>?
    ) {
        guard let bias else { return }
        for r in 0..<rows { (x + r * (stride ?? channels)).update(from: bias, count: channels) }
    }

    private static func routesToDepthwise(_ w: Window2D, groups: Int) -> Bool {
        groups > 1 && groups == w.channels
    }

    private static func checkGroups(_ w: Window2D, outChannels: Int, groups: Int) {
        precondition(
            groups > 0 && w.channels % groups == 0 && outChannels % groups == 0,
            "groups \(groups) must divide in channels \(w.channels) and out \(outChannels)")
    }
}
