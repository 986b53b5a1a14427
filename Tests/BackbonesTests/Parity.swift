import Features
import Foundation
import TestSupport
import XCTest

// Shared by the parity tests of every backbone: reading Keras' reference outputs and the
// comparison with the tolerance (max|ours-keras| <= 1e-4 max|keras|, cosine >= 0.99999).

/// A raw little-endian float32 reference file.
func floats(_ relative: String) throws -> [Float] {
    let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative)))
    return data.withUnsafeBytes { raw in
        (0..<data.count / 4).map {
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
        }
    }
}

/// Asserts the tolerance and prints the measures; `Agreement` is what
/// `extract verify` reports too.
@discardableResult
func compare(_ ours: [Float], _ keras: [Float], _ what: String) -> Agreement {
    XCTAssertEqual(ours.count, keras.count, what)
    guard ours.count == keras.count, !keras.isEmpty else { return Agreement(ours: [], keras: []) }
    let a = Agreement(ours: ours, keras: keras)
    print(
        "\(what): max|keras| \(a.maxKeras), max abs error \(a.maxAbsError) "
            + "(\(a.scaledError) of max|keras|), max rel error \(a.maxRelativeError) "
            + "(|keras| floored at 1e-3), cosine \(a.cosine)")
    XCTAssertLessThanOrEqual(a.maxAbsError, 1e-4 * a.maxKeras, what)
    XCTAssertGreaterThanOrEqual(a.cosine, 0.99999, what)
    return a
}
