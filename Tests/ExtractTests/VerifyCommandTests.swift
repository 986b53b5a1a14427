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
        let idx = try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
        let weights = Fixtures.path(idx.verify.weights)
        let good = try runExtract([
            "verify", Fixtures.path("features/" + idx.verify.good), "--model", "resnet50", "--weights", weights,
        ])
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        print(good.stdout)
        for key in idx.verify.outputs {
            XCTAssertTrue(
                good.stdout.split(separator: "\n").contains { $0.hasPrefix(key) && $0.hasSuffix("ok") },
                "\(key): \(good.stdout)")
        }
        let off = try runExtract(["verify", Fixtures.path("features/" + idx.verify.perturbed), "--weights", weights])
        XCTAssertEqual(off.status, 1, off.stdout + off.stderr)
        XCTAssertTrue(
            off.stdout.split(separator: "\n").contains { $0.hasPrefix("avg ") && $0.hasSuffix("BEYOND TOLERANCE") },
            off.stdout)
        XCTAssertTrue(
            off.stdout.split(separator: "\n").contains { $0.hasPrefix("max ") && $0.hasSuffix("ok") }, off.stdout)
        XCTAssertEqual(off.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count, 1, off.stderr)

        // --profile lists the slowest steps; with --profile-steps 0 all of them, which add up
        // to the total (each rounded to 0.01 ms and 0.1 %).
        let reference = Fixtures.path("features/" + idx.verify.good)
        func steps(_ n: String) throws -> (total: Double, ms: [Double], percent: [Double]) {
            let r = try runExtract([
                "verify", reference, "--weights", weights, "--threads", "1", "--profile", "--profile-steps", n,
            ])
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            let lines = r.stdout.components(separatedBy: "\n")
            let total = lines.first { $0.hasPrefix("profile: ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
            let listed = lines.drop { $0 != "slowest steps:" }.dropFirst().filter { !$0.isEmpty }.map {
                $0.split(separator: " ")
            }
            return (total, listed.compactMap { Double($0[0]) }, listed.compactMap { Double($0[2]) })
        }
        let three = try steps("3")
        XCTAssertEqual(three.ms.count, 3)
        XCTAssertEqual(three.ms, three.ms.sorted(by: >))
        let all = try steps("0")
        XCTAssertGreaterThan(all.ms.count, 50, "ResNet50 has a step per conv, add, pool")
        XCTAssertEqual(all.ms, all.ms.sorted(by: >))
        XCTAssertEqual(all.ms.reduce(0, +), all.total, accuracy: 0.1 + 0.005 * Double(all.ms.count))
        XCTAssertEqual(all.percent.reduce(0, +), 100, accuracy: 0.05 * Double(all.ms.count))
        let negative = try runExtract(["verify", reference, "--weights", weights, "--profile", "--profile-steps", "-1"])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("--profile-steps"), negative.stderr)

        let missing = try runExtract(["verify", "/nonexistent.npz", "--weights", weights])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("error: /nonexistent.npz: no such file"), missing.stderr)
    }
}
