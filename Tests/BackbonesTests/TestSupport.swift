import Backbones
import XCTest

/// Test cases that hand raw buffers to kernels. Buffers made through `buffer`/`output` live
/// until the test ends, so no optimizer can free one while a kernel still writes through its
/// pointer.
class KernelTestCase: XCTestCase {
    private var alive: [Buffer] = []

    func buffer(_ values: [Float]) -> Buffer {
        let b = Buffer(values)
        alive.append(b)
        return b
    }

    /// An output buffer of `count` NaNs.
    func output(count: Int) -> Buffer {
        let b = Buffer(count: count)
        alive.append(b)
        return b
    }

    override func tearDown() {
        alive.removeAll()
        super.tearDown()
    }
}

/// A float buffer the tests own; kernels get its pointer. Fresh outputs are NaN-filled so an
/// element a kernel forgets to write fails every comparison.
final class Buffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(from: values, count: count)
    }

    /// An output buffer of `count` NaNs.
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: .nan, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    var const: UnsafePointer<Float> { UnsafePointer(pointer) }
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Deterministic uniform floats (SplitMix64), so a failing case reproduces.
struct Random {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in
            let unit = Float(next() >> 40) / Float(1 << 24)
            return range.lowerBound + unit * (range.upperBound - range.lowerBound)
        }
    }
}

/// Fails unless every `|observed - expected| <= tolerance * max(1, max |expected|)`, printing
/// the worst element and the first mismatches (index, expected, observed, relative error).
/// NaN in either array is a mismatch; so is a length difference or an empty comparison.
func assertClose(
    _ observed: [Float], _ expected: [Float], tolerance: Float = 1e-5, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard observed.count == expected.count, !expected.isEmpty else {
        XCTFail(
            "\(label): \(observed.count) observed vs \(expected.count) expected values",
            file: file, line: line)
        return
    }
    let magnitude = max(1, expected.map { abs($0) }.max()!)
    var mismatches: [String] = []
    var mismatchCount = 0
    var worst = (index: 0, error: Float(0))
    for i in expected.indices {
        let error = abs(observed[i] - expected[i]) / magnitude
        if !(error <= tolerance) {
            mismatchCount += 1
            if mismatches.count < 5 {
                mismatches.append(
                    "[\(i)] expected \(expected[i]) observed \(observed[i]) rel.err \(error)")
            }
        }
        if error > worst.error || error.isNaN { worst = (i, error) }
    }
    if mismatchCount > 0 {
        XCTFail(
            "\(label): \(mismatchCount) of "
                + "\(expected.count) values off by more than \(tolerance) x \(magnitude); worst "
                + "[\(worst.index)] expected \(expected[worst.index]) observed "
                + "\(observed[worst.index]); first: " + mismatches.joined(separator: "; "),
            file: file, line: line)
    }
}

/// A 0, 1, 2, ... ramp: hand-checkable inputs.
func ramp(_ count: Int) -> [Float] { (0..<count).map(Float.init) }

/// The (H, W, C) (or (C) when flat) of the layer named `name`, nil when the graph has none.
func shape(_ g: Graph, _ name: String) -> [Int]? {
    g.nodes.first { $0.name == name }.map { g.shape($0.id).dimensions }
}
