import Features
import Foundation
import TestSupport
import XCTest

@testable import WeightLoader

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

/// The catalog architecture with some arrays reshaped: a classifier built at another input
/// size than its published file (VGG16_top at 97: fc1/kernel (4608, 4096), not (25088, 4096)).
func architecture(_ id: String, shapes: [String: [Int]]) throws -> Architecture {
    guard !shapes.isEmpty else { return try ArchitectureCatalog.architecture(id) }
    let json = try XCTUnwrap(ArchitectureCatalog.embeddedJSON[id], id)
    var doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    // Compact layers: [name, class, [[path, shape, dtype], ...]].
    var layers = try XCTUnwrap(doc["layers"] as? [[Any]])
    var replaced = 0
    for (i, layer) in layers.enumerated() {
        var arrays = try XCTUnwrap(layer[2] as? [[Any]])
        for (j, array) in arrays.enumerated() {
            if let path = array[0] as? String, let shape = shapes[path] {
                arrays[j][1] = shape
                replaced += 1
            }
        }
        layers[i][2] = arrays
    }
    XCTAssertEqual(replaced, shapes.count, "every reshaped array is in \(id)")
    doc["layers"] = layers
    return try JSONDecoder().decode(Architecture.self, from: JSONSerialization.data(withJSONObject: doc))
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
