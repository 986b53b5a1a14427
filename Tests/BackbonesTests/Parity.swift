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

struct ParityStats {
    var maxAbs = 0.0, maxRel = 0.0, kerasMax = 0.0, cosine = 0.0
}

@discardableResult
func compare(_ ours: [Float], _ keras: [Float], _ what: String) -> ParityStats {
    XCTAssertEqual(ours.count, keras.count, what)
    guard ours.count == keras.count, !keras.isEmpty else { return ParityStats() }
    var maxAbs = 0.0, maxRel = 0.0, dot = 0.0, nOurs = 0.0, nKeras = 0.0, kerasMax = 0.0
    for (a, b) in zip(ours.map(Double.init), keras.map(Double.init)) {
        let d = abs(a - b)
        maxAbs = max(maxAbs, d)
        maxRel = max(maxRel, d / max(abs(b), 1e-3))
        dot += a * b
        nOurs += a * a
        nKeras += b * b
        kerasMax = max(kerasMax, abs(b))
    }
    let cosine = dot / (nOurs.squareRoot() * nKeras.squareRoot())
    print(
        "\(what): max|keras| \(kerasMax), max abs error \(maxAbs) "
            + "(\(maxAbs / kerasMax) of max|keras|), max rel error \(maxRel) "
            + "(|keras| floored at 1e-3), cosine \(cosine)")
    XCTAssertLessThanOrEqual(maxAbs, 1e-4 * kerasMax, what)
    XCTAssertGreaterThanOrEqual(cosine, 0.99999, what)
    return ParityStats(maxAbs: maxAbs, maxRel: maxRel, kerasMax: kerasMax, cosine: cosine)
}
