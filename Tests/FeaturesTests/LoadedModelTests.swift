import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Features

/// Bind once: a run opens its weight file once, detects its architecture at most once, reads
/// its arrays once and hashes it once, whatever path the weights come by; planning more
/// outputs from the same `LoadedModel` (as `extract verify` does) reads nothing again.
final class LoadedModelTests: XCTestCase {
    func assertOnce(
        _ request: ModelRequest, store: WeightStore = WeightStore(), detections: Int, _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let before = Tally.shared.current
        let loaded = try await LoadedModel.load(request, download: false, store: store)
        let avg = try FeatureExtractor(loaded, pooling: .avg)
        let none = try FeatureExtractor(loaded, pooling: .none)
        let after = Tally.shared.current
        XCTAssertEqual(after.opens - before.opens, 1, "\(what): file opens", file: file, line: line)
        XCTAssertEqual(after.detections - before.detections, detections, "\(what): detections", file: file, line: line)
        XCTAssertEqual(after.loads - before.loads, 1, "\(what): array reads", file: file, line: line)
        XCTAssertEqual(after.hashes - before.hashes, 1, "\(what): hashes", file: file, line: line)
        // Both plans run on the one set of bound arrays: the pooled row is the map's average.
        let size = loaded.inputSize
        let image = (0..<(size.height * size.width * 3)).map { Float(($0 * 7919) % 255) / 127.5 - 1 }
        let pooled = try avg.features(image)
        let map = try none.features(image)
        let channels = pooled.count
        XCTAssertEqual(map.count % channels, 0, what, file: file, line: line)
        let positions = map.count / channels
        var worst: Float = 0
        for c in 0..<channels {
            let mean = stride(from: c, to: map.count, by: channels).reduce(Float(0)) { $0 + map[$1] } / Float(positions)
            worst = max(worst, abs(mean - pooled[c]) / max(1, abs(pooled[c])))
        }
        XCTAssertLessThan(worst, 1e-5, "\(what): avg of the map vs the avg plan", file: file, line: line)
    }

    func testWeightsFileIsOpenedDetectedBoundAndHashedOnce() async throws {
        try await assertOnce(
            ModelRequest(
                weightsPath: Fixtures.path("reference/efficientnetb0_97.h5"), inputSize: InputSize(square: 97)),
            detections: 1, "published layout, one candidate")
        try await assertOnce(
            ModelRequest(weightsPath: Fixtures.path("reference/mobilenet_1.0_224.h5")),
            detections: 1, "published layout, four sizes to tell apart")
        try await assertOnce(
            ModelRequest(weightsPath: Fixtures.path("full/nested_frozen_k3.h5")), detections: 1,
            "a saved model with the backbone nested")
        try await assertOnce(
            ModelRequest(model: "mobilenet", weightsPath: Fixtures.path("reference/mobilenet_1.0_224.h5")),
            detections: 1, "--model and --weights")
    }

    /// `--model` alone: the cached file is found by name, never detected, bound once.
    func testCachedFileIsOpenedBoundAndHashedOnce() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("loaded-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let models = home.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Fixtures.path("reference/mobilenet_1.0_224.h5"),
            toPath: models.appendingPathComponent("mobilenet_1_0_224_tf_no_top.h5").path)
        try await assertOnce(
            ModelRequest(model: "mobilenet"), store: WeightStore(kerasHome: home), detections: 0, "Keras cache")
    }

    /// The checks asked of the decision before any weights are fetched.
    func testInputChecksComeBeforeTheWeights() async throws {
        let before = Tally.shared.current
        do {
            _ = try await LoadedModel.load(
                ModelRequest(model: "resnet50", inputSize: InputSize(square: 16)), download: false)
            XCTFail("16×16 is below ResNet50's minimum")
        } catch let error as ExtractionError {
            XCTAssertEqual(error, .inputTooSmall(model: "ResNet50", size: "16×16", minimum: 32))
        }
        do {
            _ = try await LoadedModel.load(
                ModelRequest(model: "vgg16", includeTop: true, inputSize: InputSize(square: 160)), download: false)
            XCTFail("VGG16's classifier fits 224×224 only")
        } catch let error as ExtractionError {
            XCTAssertEqual(error, .classifierInputSize(model: "VGG16", size: "160×160", required: 224))
        }
        XCTAssertEqual(Tally.shared.current, before, "no file was opened or hashed")
    }
}
