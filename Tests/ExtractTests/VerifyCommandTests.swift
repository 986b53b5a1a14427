import Foundation
import TestSupport
import XCTest

/// `extract verify` on a reference saved with numpy (scripts/make_feature_references.py:
/// Keras' ResNet50 outputs at 97×97 for every pooling and one inner layer), and on a copy
/// with one output moved by 1e-3 of its scale, which must be caught.
final class VerifyCommandTests: XCTestCase {
    struct Index: Decodable {
        struct V: Decodable { let good: String; let perturbed: String; let weights: String; let outputs: [String] }
        let verify: V
    }

    func testVerifyPassesOnKerasOutputsAndCatchesAPerturbedOne() throws {
        let idx = try JSONDecoder().decode(Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
        let weights = Fixtures.path(idx.verify.weights)
        let good = try runExtract(["verify", Fixtures.path("features/" + idx.verify.good), "--model", "resnet50", "--weights", weights])
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        print(good.stdout)
        for key in idx.verify.outputs {
            XCTAssertTrue(good.stdout.split(separator: "\n").contains { $0.hasPrefix(key) && $0.hasSuffix("ok") }, "\(key): \(good.stdout)")
        }
        let off = try runExtract(["verify", Fixtures.path("features/" + idx.verify.perturbed), "--weights", weights])
        XCTAssertEqual(off.status, 1, off.stdout + off.stderr)
        XCTAssertTrue(off.stdout.split(separator: "\n").contains { $0.hasPrefix("avg ") && $0.hasSuffix("BEYOND TOLERANCE") }, off.stdout)
        XCTAssertTrue(off.stdout.split(separator: "\n").contains { $0.hasPrefix("max ") && $0.hasSuffix("ok") }, off.stdout)
        XCTAssertEqual(off.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count, 1, off.stderr)

        let missing = try runExtract(["verify", "/nonexistent.npz", "--weights", weights])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("error: /nonexistent.npz: no such file"), missing.stderr)
    }
}
