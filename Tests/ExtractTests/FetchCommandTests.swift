import Foundation
import TestSupport
import XCTest

/// `extract fetch` against a temporary KERAS_HOME (no network here: downloads themselves are
/// tested against a loopback server in WeightStoreTests).
final class FetchCommandTests: XCTestCase {
    var home: URL!

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("fetch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: home.appendingPathComponent("models"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: home) }

    func testMissingFileWithoutDownloadSaysWhereToPutIt() throws {
        let r = try runExtract(
            ["fetch", "--model", "mobilenet", "--no-download"], environment: ["KERAS_HOME": home.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        XCTAssertTrue(
            r.stderr.hasPrefix("error: mobilenet_1_0_224_tf_no_top.h5 is not in \(home.path)/models"), r.stderr)
    }

    func testCachedFileWithoutPublishedHashIsUsedAsKerasDoes() throws {
        let file = home.appendingPathComponent(
            "models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
        try Data("weights".utf8).write(to: file)
        let r = try runExtract(
            ["fetch", "--model", "mobilenetv2", "--alpha", "0.35", "--rows", "96", "--no-download"],
            environment: ["KERAS_HOME": home.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "\(file.path) (MobileNetV2 alpha 0.35 rows 96, no published hash to verify)\n")
    }

    func testStaleCachedFileIsAHashMismatchNamingBothHashes() throws {
        let file = home.appendingPathComponent("models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
        try Data("not the published file".utf8).write(to: file)
        let r = try runExtract(
            ["fetch", "--model", "resnet50", "--no-download"], environment: ["KERAS_HOME": home.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("4d473c1dd8becc155b73f8504c6f6626"), r.stderr)
        XCTAssertTrue(r.stderr.contains(file.path), r.stderr)
    }
}
