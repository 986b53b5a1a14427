import Backbones
import XCTest

final class ElementwiseTests: KernelTestCase {
    func testAddByHand() {
        let a = buffer([1, -2, 3])
        let b = buffer([10, 20, -30])
        let c = buffer([0.5, 0.25, -1])
        let out = output(count: 3)
        Kernels.add([a.const, b.const, c.const], count: 3, output: out.pointer)
        assertClose(out.array, [11.5, 18.25, -28], tolerance: 0, "add 3 inputs")
        Kernels.add([a.const, b.const], count: 3, activation: .relu, output: out.pointer)
        assertClose(out.array, [11, 18, 0], tolerance: 0, "add 2 inputs + relu")
        // In place, as the executor may run it.
        Kernels.add([a.const, b.const], count: 3, output: a.pointer)
        assertClose(a.array, [11, 18, -27], tolerance: 0, "add in place")
    }

    func testScaledAddByHand() {
        let x = buffer([1, 2])
        let up = buffer([10, -30])
        let out = output(count: 2)
        Kernels.scaledAdd(
            x.const, up.const, scale: 0.17, count: 2, activation: .relu,
            output: out.pointer)
        assertClose(out.array, [1 + 10 * 0.17, 0], tolerance: 0, "x + 0.17 * up, relu")
    }

    func testMultiplyChannelsByHand() {
        // x (N=2, 2 pixels, C=2), gate (2, 2)
        let x = buffer([1, 2, 3, 4, 5, 6, 7, 8])
        let gate = buffer([10, 100, -1, 0.5])
        let out = output(count: 8)
        Kernels.multiplyChannels(
            x.const, batch: 2, pixels: 2, channels: 2, gate: gate.const, output: out.pointer)
        assertClose(out.array, [10, 200, 30, 400, -5, 3, -7, 4], tolerance: 0, "SE multiply")
    }

    func testScaleOffsetByHand() {
        let x = buffer([1, 2, 3, 4])
        let scale = buffer([2, -1])
        let offset = buffer([0.5, 10])
        let cases: [(Buffer?, Buffer?, Activation, [Float])] = [
            (scale, offset, .linear, [2.5, 8, 6.5, 6]),
            (scale, nil, .linear, [2, -2, 6, -4]),
            (nil, offset, .linear, [1.5, 12, 3.5, 14]),
            (nil, nil, .linear, [1, 2, 3, 4]),
            (scale, nil, .relu, [2, 0, 6, 0]),
        ]
        for (s, o, activation, expected) in cases {
            let out = output(count: 4)
            Kernels.scaleOffset(
                x.const, rows: 2, channels: 2, scale: s?.const, offset: o?.const,
                activation: activation, output: out.pointer)
            assertClose(
                out.array, expected, tolerance: 0,
                "scaleOffset scale \(s != nil) offset \(o != nil) \(activation)")
        }
    }

    func testSubtractDivideByHand() {
        let x = buffer([255, 0, 127.5, 51])
        let mean = buffer([127.5, 1])
        let divisor = buffer([127.5, 2])
        let out = output(count: 4)
        Kernels.subtractDivide(
            x.const, rows: 2, channels: 2, subtract: mean.const, divide: divisor.const,
            output: out.pointer)
        assertClose(out.array, [1, -0.5, 0, 25], tolerance: 0, "(x - mean) / divisor")
    }

    func testConcatChannelsByHand() {
        // 2 pixels: a has 1 channel, b 2, c 1.
        let a = buffer([1, 2])
        let b = buffer([10, 11, 20, 21])
        let c = buffer([100, 200])
        let out = output(count: 8)
        Kernels.concatChannels(
            [(a.const, 1), (b.const, 2), (c.const, 1)], pixels: 2, output: out.pointer)
        assertClose(out.array, [1, 10, 11, 100, 2, 20, 21, 200], tolerance: 0, "concat")
    }

    func testZeroPadByHand() {
        // (N=1, H=2, W=2, C=1) padded top 1, bottom 0, left 0, right 1 -> 3x3.
        let x = buffer([1, 2, 3, 4])
        let out = output(count: 9)
        Kernels.zeroPad2d(
            x.const, batch: 1, height: 2, width: 2, channels: 1,
            padding: Padding(top: 1, bottom: 0, left: 0, right: 1), output: out.pointer)
        assertClose(out.array, [0, 0, 0, 1, 2, 0, 3, 4, 0], tolerance: 0, "zero pad")

        // Two images, two channels, every side padded.
        let y = buffer([1, 2, 3, 4])  // (N=2, H=1, W=1, C=2)
        let padded = output(count: 2 * 2 * 3 * 2)
        Kernels.zeroPad2d(
            y.const, batch: 2, height: 1, width: 1, channels: 2,
            padding: Padding(top: 0, bottom: 1, left: 2, right: 0), output: padded.pointer)
        var expected = [Float](repeating: 0, count: 24)
        expected[4] = 1
        expected[5] = 2
        expected[12 + 4] = 3
        expected[12 + 5] = 4
        assertClose(padded.array, expected, tolerance: 0, "zero pad 2 images")
    }

    func testCropByHand() {
        // 3x3 ramp; crop top 1, bottom 0, left 0, right 1 (NASNet's shift) -> [[3,4],[6,7]].
        let x = buffer(ramp(9))
        let out = output(count: 4)
        Kernels.crop2d(
            x.const, batch: 1, height: 3, width: 3, channels: 1,
            crop: Padding(top: 1, bottom: 0, left: 0, right: 1), output: out.pointer)
        assertClose(out.array, [3, 4, 6, 7], tolerance: 0, "crop")
    }
}
