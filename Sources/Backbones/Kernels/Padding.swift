/// Namespace for the CPU kernels. Every kernel works on raw NHWC float32 buffers plus explicit
/// shapes, so an executor can run it over a preallocated arena; none allocates in its hot loop.
public enum Kernels {}

/// Explicit four-sided spatial padding, in pixels.
public struct Padding: Equatable, Sendable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "negative padding")
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }

    /// No padding ("valid").
    public static let zero = Padding(top: 0, bottom: 0, left: 0, right: 0)

    /// TensorFlow "same" along one axis: `out = ceil(n/s)`,
    /// `total = max((out-1)*s + (k-1)*d + 1 - n, 0)`, `before = total/2`, `after = total - before`
    /// (the odd pixel goes at the bottom/right).
    public static func same(
        input n: Int, kernel k: Int, stride s: Int, dilation d: Int = 1
    )
        -> (out: Int, before: Int, after: Int)
    {
        precondition(n > 0 && k > 0 && s > 0 && d > 0, "bad window \(n) \(k) \(s) \(d)")
        let out = (n + s - 1) / s
        let total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        return (out, total / 2, total - total / 2)
    }

    /// "valid" along one axis: `out = ceil((n - (k-1)*d) / s)`, no padding. `out` is 0 when the
    /// dilated kernel is larger than the input.
    public static func valid(
        input n: Int, kernel k: Int, stride s: Int, dilation d: Int = 1
    )
        -> (out: Int, before: Int, after: Int)
    {
        precondition(n > 0 && k > 0 && s > 0 && d > 0, "bad window \(n) \(k) \(s) \(d)")
        let span = (k - 1) * d + 1
        return (n >= span ? (n - span) / s + 1 : 0, 0, 0)
    }

    /// TensorFlow "same" padding of an (H, W) input.
    public static func same(
        height: Int, width: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1)
    ) -> Padding {
        let h = same(input: height, kernel: kernel.0, stride: strides.0, dilation: dilation.0)
        let w = same(input: width, kernel: kernel.1, stride: strides.1, dilation: dilation.1)
        return Padding(top: h.before, bottom: h.after, left: w.before, right: w.after)
    }
}

/// A sliding window over an NHWC input: the geometry shared by convolutions and pools.
/// in (N,H,W,C), window (KH,KW), strides, dilation, padding -> out spatial (OH,OW)
public struct Window2D: Equatable, Sendable {
    public var batch: Int
    public var height: Int
    public var width: Int
    public var channels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var padding: Padding

    public init(
        batch: Int, height: Int, width: Int, channels: Int, kernel: (Int, Int),
        strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding = .zero
    ) {
        precondition(batch >= 0 && height > 0 && width > 0 && channels > 0, "bad input shape")
        precondition(kernel.0 > 0 && kernel.1 > 0, "bad kernel \(kernel)")
        precondition(strides.0 > 0 && strides.1 > 0, "bad strides \(strides)")
        precondition(dilation.0 > 0 && dilation.1 > 0, "bad dilation \(dilation)")
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
        self.kernelHeight = kernel.0
        self.kernelWidth = kernel.1
        self.strideHeight = strides.0
        self.strideWidth = strides.1
        self.dilationHeight = dilation.0
        self.dilationWidth = dilation.1
        self.padding = padding
        precondition(outHeight > 0 && outWidth > 0, "window larger than padded input: \(self)")
    }

    /// The same window with TensorFlow "same" padding.
    public static func same(
        batch: Int, height: Int, width: Int, channels: Int, kernel: (Int, Int),
        strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1)
    ) -> Window2D {
        Window2D(
            batch: batch, height: height, width: width, channels: channels, kernel: kernel,
            strides: strides, dilation: dilation,
            padding: .same(
                height: height, width: width, kernel: kernel, strides: strides,
                dilation: dilation))
    }

    public var outHeight: Int {
        let span = (kernelHeight - 1) * dilationHeight + 1
        let padded = height + padding.top + padding.bottom
        return padded >= span ? (padded - span) / strideHeight + 1 : 0
    }

    public var outWidth: Int {
        let span = (kernelWidth - 1) * dilationWidth + 1
        let padded = width + padding.left + padding.right
        return padded >= span ? (padded - span) / strideWidth + 1 : 0
    }

    /// Number of output pixels, N*OH*OW.
    public var outPixels: Int { batch * outHeight * outWidth }

    /// Number of input floats, N*H*W*C.
    public var inputCount: Int { batch * height * width * channels }

    /// True when the window reads each input pixel once, in order: a 1×1 kernel, stride 1,
    /// no padding. A convolution is then a plain matrix product over the NHWC buffer.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && padding == .zero
    }

    /// The kernel rows that land inside the input for output row `oh`: `kh` in `lo..<hi`
    /// reads input row `oh*sh - top + kh*dh`.
    @inline(__always)
    func validRows(_ oh: Int) -> (first: Int, lo: Int, hi: Int) {
        let first = oh * strideHeight - padding.top
        let taps = validTaps(first, kernelHeight, dilationHeight, height)
        return (first, taps.lo, taps.hi)
    }

    @inline(__always)
    func validColumns(_ ow: Int) -> (first: Int, lo: Int, hi: Int) {
        let first = ow * strideWidth - padding.left
        let taps = validTaps(first, kernelWidth, dilationWidth, width)
        return (first, taps.lo, taps.hi)
    }
}

/// Taps `k` in `lo..<hi` such that `0 <= first + k*d < n`.
@inline(__always)
private func validTaps(_ first: Int, _ k: Int, _ d: Int, _ n: Int) -> (lo: Int, hi: Int) {
    // Smallest k with first + k*d >= 0, largest with first + k*d <= n-1 (ceil/floor divisions).
    let lo = first >= 0 ? 0 : (-first + d - 1) / d
    let last = n - 1 - first
    let hi = last < 0 ? 0 : min(k, last / d + 1)
    return (lo, max(lo, hi))
}
