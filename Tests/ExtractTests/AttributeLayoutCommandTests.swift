import FeatureFiles
import Features
import Foundation
import TestSupport
import XCTest

/// The built binary on Keras 3 files of models that track layers as attributes
/// (scripts/make_fixtures.py fx_attr): the backbone's features from the saved model equal
/// Keras' `backbone.predict` on the same preprocessed images.
final class AttributeLayoutCommandTests: XCTestCase {
    /// An expectations.json entry; only the attr/ fixtures carry `e2e`.
    struct Case: Decodable {
        let architecture: String?
        let e2e: E2E?
    }
    struct E2E: Decodable {
        let images: [String]
        let size: Int
        let features: String
        let features_shape: [Int]
    }
    struct File: Decodable { let fixtures: [String: Case] }

    static let fixtures = [
        "attr/subclassed.weights.h5", "attr/subclassed.keras",
        "attr/functional_blocks.weights.h5", "attr/functional_blocks.keras",
    ]

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("attr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func testBackboneFeaturesFromAttributeTrackedFilesEqualKeras() throws {
        let cases = try JSONDecoder().decode(
            File.self, from: Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        ).fixtures
        var worst = 0.0
        for name in Self.fixtures {
            let entry = try XCTUnwrap(cases[name], name)
            let c = try XCTUnwrap(entry.e2e, name), architecture = try XCTUnwrap(entry.architecture, name)
            // "MobileNet_0.25" -> --model mobilenet --alpha 0.25.
            let parts = architecture.split(separator: "_").map(String.init)
            let out = tmp.appendingPathComponent("\(name.replacingOccurrences(of: "/", with: "_")).npy").path
            // Images of the input size: no resizing; the model's own preprocessing ("tf").
            let r = try runExtract(
                [
                    "--weights", Fixtures.path(name), "--model", parts[0].lowercased(), "--alpha", parts[1],
                    "--input-size", "\(c.size)", "--pooling", "none", "--quiet",
                ]
                    + c.images.map { Fixtures.path($0) } + ["-o", out])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            guard r.status == 0 else { continue }
            let ours = try Npy.read(Data(contentsOf: URL(fileURLWithPath: out)), name: out)
            let rows = c.features_shape[0], width = c.features_shape.dropFirst().reduce(1, *)
            XCTAssertEqual(ours.shape, c.features_shape, "\(name): the map as Keras' predict shapes it")
            let keras = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(c.features))).withUnsafeBytes {
                Array($0.bindMemory(to: Float.self))
            }
            XCTAssertEqual(ours.values.count, keras.count, name)
            guard ours.values.count == keras.count else { continue }
            for row in 0..<rows {
                let slice = row * width..<(row + 1) * width
                let a = Agreement(ours: Array(ours.values[slice]), keras: Array(keras[slice]))
                worst = max(worst, a.scaledError)
                print(
                    String(
                        format: "%@ image %d: max abs err / max|keras| %.2e, cosine 1-%.0e",
                        name, row, a.scaledError, 1 - a.cosine))
                XCTAssertTrue(a.passes(), "\(name) image \(row): \(a)")
            }
        }
        print("attribute-tracked files: worst max abs err / max|keras| \(worst)")
    }

    /// Without --model the file says which backbone it holds; avg pooling is the mean of
    /// Keras' feature map over its positions.
    func testWeightsAloneDetectTheBackbone() throws {
        let cases = try JSONDecoder().decode(
            File.self, from: Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        ).fixtures
        let c = try XCTUnwrap(cases["attr/subclassed.keras"]?.e2e)
        let out = tmp.appendingPathComponent("detected.npy").path
        let r = try runExtract(
            ["--weights", Fixtures.path("attr/subclassed.keras"), "--input-size", "\(c.size)", "--quiet"]
                + c.images.map { Fixtures.path($0) } + ["-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ours = try Npy.read(Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        let shape = c.features_shape  // (N, H, W, C)
        XCTAssertEqual(ours.shape, [shape[0], shape[3]])
        let map = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(c.features))).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }
        let positions = shape[1] * shape[2], channels = shape[3]
        var pooled = [Float](repeating: 0, count: shape[0] * channels)
        for n in 0..<shape[0] {
            for p in 0..<positions {
                for k in 0..<channels {
                    pooled[n * channels + k] += map[(n * positions + p) * channels + k] / Float(positions)
                }
            }
        }
        let a = Agreement(ours: ours.values, keras: pooled)
        XCTAssertTrue(a.passes(), "\(a)")
    }
}
