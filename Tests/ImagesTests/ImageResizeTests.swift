import Foundation
import TestSupport
import XCTest

@testable import Images

private func * (array: [UInt8], count: Int) -> [UInt8] { Array([[UInt8]](repeating: array, count: count).joined()) }

/// load_img resizing (PIL) and tf.image.resize against stored references, and every fast
/// resampler against its naive reference.
final class ImageResizeTests: XCTestCase {
    func testLoadImgResizeMatchesPIL() throws {
        let index = try ImageIndex.load()
        var worst = [String: Int]()
        var failures = [String]()
        var count = 0
        for entry in index.files where !entry.resized.isEmpty {
            // Resize PIL's own decoded pixels, so decoder and resizer are checked separately.
            let decoded: RGBImage
            if let ref = entry.decoded {
                decoded = RGBImage(width: entry.width, height: entry.height, pixels: try ImageIndex.bytes(ref))
            } else {
                decoded = try ImageDecoder.decode(path: ImageIndex.path(entry.path))
            }
            for r in entry.resized {
                let interpolation = try XCTUnwrap(Interpolation(rawValue: r.interpolation))
                let out = ImageResizer.resize(
                    decoded, width: r.width, height: r.height, interpolation: interpolation,
                    keepAspectRatio: r.keepAspectRatio)
                XCTAssertEqual([out.width, out.height], [r.width, r.height])
                let diff = ByteDiff(out.pixels, try ImageIndex.bytes(r.ref))
                let key = r.interpolation + (r.keepAspectRatio ? " keep_aspect_ratio" : "")
                worst[key] = max(worst[key] ?? 0, diff.maxAbs)
                count += 1
                if diff.differing != 0 {
                    failures.append("\(entry.path) \(r.width)x\(r.height) \(key): \(diff)")
                }
            }
        }
        print(
            "load_img resize vs PIL, \(count) cases; max |diff| per method: "
                + worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        XCTAssertGreaterThan(count, 130)
        XCTAssert(failures.isEmpty, "resize differs from PIL:\n" + failures.joined(separator: "\n"))
    }

    func testTensorflowResizeMatchesTF() throws {
        let index = try ImageIndex.load()
        var worst = [String: Float]()
        var count = 0
        for entry in index.files where !entry.tf.isEmpty {
            let decoded: RGBImage
            if let ref = entry.decoded {
                decoded = RGBImage(width: entry.width, height: entry.height, pixels: try ImageIndex.bytes(ref))
            } else {
                decoded = try ImageDecoder.decode(path: ImageIndex.path(entry.path))
            }
            for t in entry.tf {
                let method = try XCTUnwrap(TFResizeMethod(rawValue: t.method))
                let out = ImageResizer.tensorflowResize(
                    decoded, width: t.width, height: t.height, method: method,
                    cropToAspectRatio: t.cropToAspectRatio)
                let expected = try ImageIndex.floats(t.ref)
                XCTAssertEqual(out.count, expected.count)
                guard out.count == expected.count else { continue }
                var maxDiff: Float = 0
                for i in 0..<out.count { maxDiff = max(maxDiff, abs(out[i] - expected[i])) }
                let key = t.method + (t.cropToAspectRatio ? " crop" : "")
                worst[key] = max(worst[key] ?? 0, maxDiff)
                count += 1
                XCTAssertLessThanOrEqual(maxDiff, 1e-4, "\(entry.path) \(t.width)x\(t.height) \(key)")
            }
        }
        print(
            "tf.image.resize, \(count) cases; max |diff| per method: "
                + worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        XCTAssertGreaterThanOrEqual(count, 15)
    }

    // MARK: hand-checkable cases

    func testNearestAccumulatesLikePIL() {
        // keras-formats.md §4.1: 4 -> 10 picks [0,0,1,1,1,2,2,2,3,3] (closed form gives ...,2,3,3,3).
        XCTAssertEqual(
            PILNearest.sourceIndices(inSize: 4, in0: 0, in1: 4, outSize: 10), [0, 0, 1, 1, 1, 2, 2, 2, 3, 3])
        // Downscale 10 -> 4: positions 1.25, 3.75, 6.25, 8.75.
        XCTAssertEqual(PILNearest.sourceIndices(inSize: 10, in0: 0, in1: 10, outSize: 4), [1, 3, 6, 8])
        // A box shifts the start: box 2..6 of 8 -> 2 px: 3, 5.
        XCTAssertEqual(PILNearest.sourceIndices(inSize: 8, in0: 2, in1: 6, outSize: 2), [3, 5])
        let row = RGBImage(width: 4, height: 1, pixels: [0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30])
        let out = ImageResizer.resize(row, width: 10, height: 1)
        XCTAssertEqual(stride(from: 0, to: 30, by: 3).map { out.pixels[$0] }, [0, 0, 10, 10, 10, 20, 20, 20, 30, 30])
    }

    func testBilinearDownscaleByHand() {
        // 4 -> 2 px, PIL bilinear (support 1 stretched to 2): output 0 centers at 1.0 and reads
        // pixels 0, 1, 2 with triangle weights 0.75, 0.75, 0.25, normalized to 3/7, 3/7, 1/7;
        // output 1 centers at 3.0 and reads 1, 2, 3 with 1/7, 3/7, 3/7.
        let w = PILResample.window(0, inSize: 4, in0: 0, in1: 4, outSize: 2, filter: .bilinear)
        XCTAssertEqual(w.first, 0)
        XCTAssertEqual(w.weights.count, 3)
        for (a, b) in zip(w.weights, [3.0 / 7, 3.0 / 7, 1.0 / 7]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        // [0, 100, 200, 250]: (0 * 3 + 100 * 3 + 200) / 7 = 71.4 -> 71; (100 + 600 + 750) / 7 = 207.1 -> 207.
        let row = RGBImage(width: 4, height: 1, pixels: [0, 0, 0, 100, 100, 100, 200, 200, 200, 250, 250, 250])
        let out = ImageResizer.resize(row, width: 2, height: 1, interpolation: .bilinear)
        XCTAssertEqual(out.pixels, [71, 71, 71, 207, 207, 207])
    }

    func testKeepAspectRatioBoxes() {
        // Landscape 640x427 to a square: crop the width to 427, centered at (640 - 427) // 2.
        XCTAssertTrue(
            ImageResizer.keepAspectRatioBox(width: 640, height: 427, targetWidth: 224, targetHeight: 224)
                == (106, 0, 533, 427))
        // 451x300 to 400x300: crop width = 300 * 400 // 300 = 400 -> box size equals the target
        // (PIL then crops instead of resampling).
        XCTAssertTrue(
            ImageResizer.keepAspectRatioBox(width: 451, height: 300, targetWidth: 400, targetHeight: 300)
                == (25, 0, 425, 300))
        // Portrait target on a landscape image: 640x427 -> 97 wide, 131 high: crop width
        // 427 * 97 // 131 = 316, x0 = (640 - 316) // 2 = 162.
        XCTAssertTrue(
            ImageResizer.keepAspectRatioBox(width: 640, height: 427, targetWidth: 97, targetHeight: 131)
                == (162, 0, 478, 427))
        // tf.data smart_resize: same numbers here, computed in float32.
        XCTAssertTrue(
            ImageResizer.smartResizeCropBox(width: 640, height: 427, targetWidth: 224, targetHeight: 224)
                == (106, 0, 533, 427))
        XCTAssertTrue(
            ImageResizer.smartResizeCropBox(width: 1, height: 1, targetWidth: 1000, targetHeight: 10)
                == (0, 0, 1, 1))
        // A crop whose size equals the target is a plain copy of the window.
        let image = randomImage(width: 451, height: 300, seed: 7)
        let cropped = ImageResizer.resize(
            image, width: 400, height: 300, interpolation: .lanczos,
            keepAspectRatio: true)
        XCTAssertEqual(cropped, ImageResizer.crop(image, x0: 25, y0: 0, width: 400, height: 300))
    }

    func testDegenerateKeepAspectRatioBoxes() {
        // 1x1 to 1000 wide, 10 high: crop height 1 * 10 // 1000 = 0, an empty box PIL accepts
        // (its check is `< 0`); every filter then reads the single pixel.
        let pixel = RGBImage(width: 1, height: 1, pixels: [200, 30, 90])
        XCTAssertTrue(
            ImageResizer.keepAspectRatioBox(width: 1, height: 1, targetWidth: 1000, targetHeight: 10)
                == (0, 0, 1, 0))
        for interpolation in Interpolation.allCases {
            let out = ImageResizer.resize(
                pixel, width: 1000, height: 10, interpolation: interpolation,
                keepAspectRatio: true)
            XCTAssertEqual(out.pixels, [UInt8]([200, 30, 90] * 10_000), "\(interpolation)")
        }
    }

    func testSameSizeIsANoOp() {
        let image = randomImage(width: 13, height: 7, seed: 3)
        for interpolation in Interpolation.allCases {
            XCTAssertEqual(ImageResizer.resize(image, width: 13, height: 7, interpolation: interpolation), image)
            XCTAssertEqual(
                ImageResizer.resize(
                    image, width: 13, height: 7, interpolation: interpolation,
                    keepAspectRatio: true), image)
        }
    }

    func testTFResizeByHand() {
        // 2 -> 4 px, half-pixel centers: positions -0.25, 0.25, 0.75, 1.25 -> clamped taps,
        // bilinear values 10, 10 + 0.25 * 20 = 15, 25, 30.
        let row = RGBImage(width: 2, height: 1, pixels: [10, 10, 10, 30, 30, 30])
        let bilinear = ImageResizer.tensorflowResize(row, width: 4, height: 1)
        XCTAssertEqual(stride(from: 0, to: 12, by: 3).map { bilinear[$0] }, [10, 15, 25, 30])
        // Nearest: floor((x + 0.5) * 0.5) -> 0, 0, 1, 1.
        let nearest = ImageResizer.tensorflowResize(row, width: 4, height: 1, method: .nearest)
        XCTAssertEqual(stride(from: 0, to: 12, by: 3).map { nearest[$0] }, [10, 10, 30, 30])
        // Keys cubic table: weights at distance 0 and 1 are 1 and 0, and every row of four
        // taps sums to 1.
        XCTAssertEqual(TFResize.cubicTable[0], 1)
        XCTAssertEqual(TFResize.cubicTable[1], 0)
        let t = TFResize.cubicTap(5, inSize: 40, scale: 0.37)
        XCTAssertEqual(t.weight.0 + t.weight.1 + t.weight.2 + t.weight.3, 1, accuracy: 1e-6)
    }

    // MARK: fast kernels against their naive references

    func testAntialiasFastMatchesNaive() {
        let cases: [(Int, Int, Int, Int, (Float, Float, Float, Float)?)] = [
            (17, 11, 5, 4, nil), (17, 11, 40, 23, nil), (9, 30, 9, 7, nil), (30, 9, 7, 9, nil),
            (23, 19, 23, 31, nil), (40, 30, 10, 10, (5, 3, 35, 28)), (40, 30, 12, 12, (10, 0, 30, 30)),
            (3, 2, 224, 5, nil), (50, 50, 13, 13, (0.5, 1.25, 49.5, 40)),
        ]
        for filter in [ResampleFilter.box, .bilinear, .hamming, .bicubic, .lanczos] {
            for (i, c) in cases.enumerated() {
                let image = randomImage(width: c.0, height: c.1, seed: UInt64(i + 1))
                let box = c.4 ?? (0, 0, Float(c.0), Float(c.1))
                let fast = PILResample.resample(image, width: c.2, height: c.3, filter: filter, box: box)
                let naive = PILResample.resampleNaive(image, width: c.2, height: c.3, filter: filter, box: box)
                XCTAssertEqual(fast, naive, "\(filter) \(c.0)x\(c.1) -> \(c.2)x\(c.3) box \(box)")
            }
        }
    }

    func testNearestFastMatchesNaive() {
        let cases = [(4, 3, 10, 7), (10, 7, 4, 3), (33, 21, 224, 224), (640, 427, 224, 224), (5, 5, 5, 9)]
        for (i, c) in cases.enumerated() {
            let image = randomImage(width: c.0, height: c.1, seed: UInt64(100 + i))
            let box = (Float(0), Float(0), Float(c.0), Float(c.1))
            XCTAssertEqual(
                PILNearest.resize(image, width: c.2, height: c.3, box: box),
                PILNearest.resizeNaive(image, width: c.2, height: c.3, box: box), "\(c)")
        }
        let image = randomImage(width: 40, height: 30, seed: 9)
        let box: (Float, Float, Float, Float) = (5, 0, 35, 30)
        XCTAssertEqual(
            PILNearest.resize(image, width: 11, height: 13, box: box),
            PILNearest.resizeNaive(image, width: 11, height: 13, box: box))
    }

    func testTFFastMatchesNaive() {
        for (i, c) in [(4, 3, 10, 7), (10, 7, 4, 3), (33, 21, 17, 40), (1, 1, 5, 3), (2, 9, 2, 9)].enumerated() {
            let image = randomImage(width: c.0, height: c.1, seed: UInt64(200 + i))
            XCTAssertEqual(
                TFResize.bilinear(image, width: c.2, height: c.3),
                TFResize.bilinearNaive(image, width: c.2, height: c.3), "bilinear \(c)")
            XCTAssertEqual(
                TFResize.bicubic(image, width: c.2, height: c.3),
                TFResize.bicubicNaive(image, width: c.2, height: c.3), "bicubic \(c)")
        }
    }
}
