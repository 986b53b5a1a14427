// Copies that change the shape. Each is a run of contiguous row copies, which is already the
// fast form, so there is no separate naive version.

extension Kernels {
    /// Keras `Concatenate(axis=-1)`: each pixel's channels are input 0's, then input 1's, ...
    /// inputs (P, C_i) each, P = N*H*W -> out (P, sum C_i)
    public static func concatChannels(
        _ inputs: [(data: UnsafePointer<Float>, channels: Int)], pixels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let total = inputs.reduce(0) { $0 + $1.channels }
        var start = 0
        for input in inputs {
            for p in 0..<pixels {
                (output + p * total + start).update(
                    from: input.data + p * input.channels, count: input.channels)
            }
            start += input.channels
        }
    }

    /// Keras `ZeroPadding2D`: zeros around the image, four sides given explicitly.
    /// in (N,H,W,C) -> out (N, H+top+bottom, W+left+right, C)
    public static func zeroPad2d(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        padding p: Padding, output: UnsafeMutablePointer<Float>
    ) {
        let outWidth = width + p.left + p.right
        let outHeight = height + p.top + p.bottom
        let outRow = outWidth * channels
        let inRow = width * channels
        for n in 0..<batch {
            let image = output + n * outHeight * outRow
            image.update(repeating: 0, count: p.top * outRow)
            for h in 0..<height {
                let row = image + (p.top + h) * outRow
                row.update(repeating: 0, count: p.left * channels)
                (row + p.left * channels).update(
                    from: input + (n * height + h) * inRow, count: inRow)
                (row + p.left * channels + inRow).update(repeating: 0, count: p.right * channels)
            }
            (image + (p.top + height) * outRow).update(repeating: 0, count: p.bottom * outRow)
        }
    }

    /// Keras `Cropping2D`: drops `crop.top` rows at the top, `crop.bottom` at the bottom, etc.
    /// in (N,H,W,C) -> out (N, H-top-bottom, W-left-right, C)
    public static func crop2d(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        crop: Padding, output: UnsafeMutablePointer<Float>
    ) {
        let outHeight = height - crop.top - crop.bottom
        let outWidth = width - crop.left - crop.right
        precondition(outHeight > 0 && outWidth > 0, "cropping \(crop) empties \(height)x\(width)")
        let count = outWidth * channels
        for n in 0..<batch {
            for h in 0..<outHeight {
                let src = input + ((n * height + crop.top + h) * width + crop.left) * channels
                (output + (n * outHeight + h) * count).update(from: src, count: count)
            }
        }
    }
}

extension Kernels {
    /// Keras `Permute(dims)` on one image: output axis i is input axis `axes[i]` (0-based,
    /// without the batch axis), for rank 1 to 3.
    /// in (d0, d1, d2) -> out (d[axes[0]], d[axes[1]], d[axes[2]])
    public static func permute(
        _ input: UnsafePointer<Float>, dimensions: [Int], axes: [Int],
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(
            dimensions.count <= 3 && axes.sorted() == Array(0..<dimensions.count),
            "permute \(dimensions) by \(axes)")
        // As rank 3 with leading axes of 1: the input stride of each output axis.
        let lead = 3 - dimensions.count
        var inStride = [Int](repeating: 0, count: dimensions.count)
        var s = 1
        for a in (0..<dimensions.count).reversed() {
            inStride[a] = s
            s *= dimensions[a]
        }
        let outDims = [Int](repeating: 1, count: lead) + axes.map { dimensions[$0] }
        let stride = [Int](repeating: 0, count: lead) + axes.map { inStride[$0] }
        var o = 0
        for i in 0..<outDims[0] {
            for j in 0..<outDims[1] {
                let base = i * stride[0] + j * stride[1]
                for k in 0..<outDims[2] {
                    output[o] = input[base + k * stride[2]]
                    o += 1
                }
            }
        }
    }
}
