extension Graph {
    /// The window a convolution or pool with these parameters slides over `input`.
    static func window(
        _ input: FeatureShape, batch: Int, kernel: (Int, Int), strides: (Int, Int),
        dilation: (Int, Int), padding: PaddingMode
    ) -> Window2D {
        let pad: Padding
        switch padding {
        case .valid: pad = .zero
        case .explicit(let p): pad = p
        case .same:
            pad = .same(
                height: input.height, width: input.width, kernel: kernel, strides: strides,
                dilation: dilation)
        }
        return Window2D(
            batch: batch, height: input.height, width: input.width, channels: input.channels,
            kernel: kernel, strides: strides, dilation: dilation, padding: pad)
    }

    /// Output spatial size, or nil when the window does not fit.
    private static func windowOut(
        _ s: FeatureShape, kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int),
        padding: PaddingMode
    ) -> (Int, Int)? {
        guard kernel.0 > 0, kernel.1 > 0, strides.0 > 0, strides.1 > 0, dilation.0 > 0,
            dilation.1 > 0, s.isMap
        else { return nil }
        switch padding {
        case .same:
            return (
                Padding.same(input: s.height, kernel: kernel.0, stride: strides.0, dilation: dilation.0).out,
                Padding.same(input: s.width, kernel: kernel.1, stride: strides.1, dilation: dilation.1).out
            )
        case .valid, .explicit:
            let p: Padding
            if case .explicit(let e) = padding { p = e } else { p = .zero }
            let h = Padding.valid(
                input: s.height + p.top + p.bottom, kernel: kernel.0, stride: strides.0,
                dilation: dilation.0
            ).out
            let w = Padding.valid(
                input: s.width + p.left + p.right, kernel: kernel.1, stride: strides.1,
                dilation: dilation.1
            ).out
            return h > 0 && w > 0 ? (h, w) : nil
        }
    }

    static func inferShape(
        _ name: String, _ op: GraphOp, _ ins: [FeatureShape]
    ) throws
        -> FeatureShape
    {
        func fail(_ detail: String) -> GraphError { .badGraph(layer: name, detail: detail) }
        func one() throws -> FeatureShape {
            guard ins.count == 1 else { throw fail("expects 1 input, got \(ins.count)") }
            return ins[0]
        }
        // Softmax normalizes over the channels of a row; the convolution and elementwise
        // kernels apply their activation value by value, so only Dense and Activation take it.
        if let activation = op.convolutionActivation, !activation.isElementwise {
            throw fail("\(activation) is only supported on Dense and Activation layers")
        }
        switch op {
        case .input:
            throw fail("inputs are added with addInput")
        case .conv2d(let p):
            let s = try one()
            guard p.groups > 0, s.channels % p.groups == 0, p.filters % p.groups == 0 else {
                throw fail("groups \(p.groups) must divide \(s.channels) and \(p.filters)")
            }
            guard
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: p.filters)
        case .depthwiseConv2d(let p):
            let s = try one()
            guard p.depthMultiplier > 0,
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: s.channels * p.depthMultiplier)
        case .separableConv2d(let p):
            let s = try one()
            guard p.depthMultiplier > 0, p.filters > 0,
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: p.filters)
        case .dense(let units, _, _):
            let s = try one()
            guard units > 0 else { throw fail("Dense needs at least 1 unit, got \(units)") }
            return FeatureShape(s.dimensions.dropLast() + [units])
        case .flatten:
            let s = try one()
            return FeatureShape([s.count])
        case .batchNorm, .activation, .rescaling, .dropout:
            return try one()
        case .layerNormalization, .layerScale:
            return try one()
        case .channelRescaling(let scale, let offset):
            let s = try one()
            guard scale.count == s.channels, offset.count == s.channels else {
                throw fail("\(scale.count) scales and \(offset.count) offsets for \(s.channels) channels")
            }
            return s
        case .normalization(let mean, let variance):
            let s = try one()
            guard (mean == nil) == (variance == nil),
                mean.map({ $0.count == s.channels && variance?.count == s.channels }) ?? true
            else { throw fail("mean and variance must both have \(s.channels) values") }
            return s
        case .reshape(let target):
            let s = try one()
            guard target.count == s.count else { throw fail("cannot reshape \(s) to \(target)") }
            return target
        case .zeroPadding(let p):
            let s = try one()
            guard s.isMap else { throw fail("pads an (H, W, C) map, got \(s)") }
            return FeatureShape(
                height: s.height + p.top + p.bottom, width: s.width + p.left + p.right,
                channels: s.channels)
        case .cropping2d(let c):
            let s = try one()
            guard s.isMap, c.top + c.bottom < s.height, c.left + c.right < s.width else {
                throw fail("cropping \(c) leaves nothing of \(s)")
            }
            return FeatureShape(
                height: s.height - c.top - c.bottom, width: s.width - c.left - c.right,
                channels: s.channels)
        case .add:
            guard ins.count >= 2, ins.allSatisfy({ $0 == ins[0] }) else {
                throw fail("adds equal shapes, got \(ins)")
            }
            return ins[0]
        case .average, .maximum, .minimum:
            guard ins.count >= 2, ins.allSatisfy({ $0 == ins[0] }) else {
                throw fail("\(op) takes 2 or more equal shapes, got \(ins)")
            }
            return ins[0]
        case .subtract:
            guard ins.count == 2, ins[0] == ins[1] else {
                throw fail("subtracts 2 equal shapes, got \(ins)")
            }
            return ins[0]
        case .permute(let dims):
            let s = try one()
            guard dims.sorted() == Array(1...s.rank) else {
                throw fail("Permute(\(dims)) does not permute the axes of \(s)")
            }
            return FeatureShape(dims.map { s.dimensions[$0 - 1] })
        case .upSampling2d(let p):
            let s = try one()
            guard s.isMap, p.size.0 > 0, p.size.1 > 0 else {
                throw fail("upsamples an (H, W, C) map by positive factors, got \(s) and \(p.size)")
            }
            return FeatureShape(height: s.height * p.size.0, width: s.width * p.size.1, channels: s.channels)
        case .constant(let c):
            let s = try one()
            guard c.values.count == 1 || c.values.count == s.channels else {
                throw fail("\(c.values.count) constants for \(s.channels) channels (1 or one per channel)")
            }
            return s
        case .reverseChannels:
            return try one()
        case .scaledAdd:
            guard ins.count == 2, ins[0] == ins[1] else {
                throw fail("adds 2 equal shapes, got \(ins)")
            }
            return ins[0]
        case .multiply:
            guard ins.count == 2 else { throw fail("multiplies 2 inputs, got \(ins.count)") }
            let (a, b) = (ins[0], ins[1])
            if a == b { return a }
            guard a.isMap, b.isMap, a.channels == b.channels, a.height * a.width == 1 || b.height * b.width == 1
            else { throw fail("cannot broadcast \(a) and \(b)") }
            return a.height * a.width == 1 ? b : a
        case .concat:
            // Along the last axis: every other axis must agree.
            guard !ins.isEmpty, ins.allSatisfy({ $0.dimensions.dropLast() == ins[0].dimensions.dropLast() })
            else { throw fail("concatenates shapes equal but for the last axis, got \(ins)") }
            return FeatureShape(ins[0].dimensions.dropLast() + [ins.reduce(0) { $0 + $1.channels }])
        case .maxPool(let p), .averagePool(let p):
            let s = try one()
            guard
                let (h, w) = windowOut(
                    s, kernel: p.pool, strides: p.strides, dilation: (1, 1), padding: p.padding)
            else { throw fail("pool \(p.pool) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: s.channels)
        case .globalAveragePool(let keep), .globalMaxPool(let keep):
            let s = try one()
            guard s.isMap else { throw fail("pools an (H, W, C) map, got \(s)") }
            return FeatureShape(height: 1, width: 1, channels: s.channels, flat: !keep)
        }
    }
}
