import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// Every backbone reference `scripts/make_fixtures.py` writes (BACKBONE_REFERENCES: each family
/// at an odd size, the seed models at their default size; seeded weights and BatchNorm
/// statistics in the published legacy layout; Keras `predict` of the feature map and of
/// pooling "avg" and "max") against the graph `Backbone` builds for the same catalog id.
/// Prints one table row per output: `swift test --disable-swift-testing --filter BackboneParityTests`.
final class BackboneParityTests: XCTestCase {
    struct Reference {
        let output: String
        let architecture: String
        let size: Int
        let weights: String
        let input: String
        let pooling: GlobalPooling
        /// `--layer`: the output of this layer instead of the last one.
        let layer: String?
        let shape: [Int]
    }

    /// The expectations.json references that carry a catalog id and an input size.
    static func references() throws -> [Reference] {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let refs = try XCTUnwrap(json?["references"] as? [String: [String: Any]])
        return try refs.compactMap { rel, e -> Reference? in
            guard e["role"] as? String == "output", let size = e["size"] as? Int else { return nil }
            return Reference(
                output: rel, architecture: try XCTUnwrap(e["architecture"] as? String), size: size,
                weights: try XCTUnwrap(e["weights"] as? String), input: try XCTUnwrap(e["input"] as? String),
                pooling: GlobalPooling(rawValue: e["pooling"] as? String ?? "none") ?? .none,
                layer: e["layer"] as? String, shape: try XCTUnwrap(e["shape"] as? [Int]))
        }.sorted { ($0.architecture, $0.size, $0.output) < ($1.architecture, $1.size, $1.output) }
    }

    func testEveryBackboneReferenceMatchesKeras() throws {
        let refs = try Self.references()
        XCTAssertGreaterThanOrEqual(refs.count, 93, "BACKBONE_REFERENCES shrank")
        var table = ["| model | input | output | max abs keras | max abs err / max abs keras | cosine |", "|---|---|---|---|---|---|"]
        var bound: (path: String, weights: BoundWeights)?
        for r in refs {
            let what = "\(r.architecture) \(r.size) \(r.layer.map { "layer \($0)" } ?? "\(r.pooling)")"
            if bound?.path != r.weights {
                let file = try KerasWeightFile.open(Fixtures.path(r.weights))
                bound = (r.weights, try Binder.bind(file, to: ArchitectureCatalog.architecture(r.architecture)))
            }
            let graph = try r.layer.map {
                try Backbone.graph(r.architecture, height: r.size, width: r.size, layer: $0, pooling: r.pooling)
            } ?? Backbone.graph(r.architecture, height: r.size, width: r.size, pooling: r.pooling)
            let model = try CompiledGraph(graph, weights: bound!.weights)
            XCTAssertEqual([r.shape[0]] + model.outputShape.dimensions, r.shape, what)
            let input = try floats(r.input)
            let keras = try floats(r.output)
            let ours = try model.run(input)
            let s = compare(ours, keras, what)
            table.append(String(
                format: "| %@ | %d | %@ %@ | %.3g | %.2e | 1-%.0e |", r.architecture, r.size,
                r.layer ?? r.pooling.rawValue, "\(r.shape)", s.maxKeras, s.scaledError, 1 - s.cosine))
            // Random weights must still leave a live signal, or the comparison proves little.
            XCTAssertGreaterThan(keras.filter { $0 > 0 }.count, keras.count / 10, what)

            // One image at a time gives the same rows as the batch.
            guard r.pooling == .none else { continue }
            let per = input.count / r.shape[0]
            let rowCount = ours.count / r.shape[0]
            for i in 0..<r.shape[0] {
                let single = try model.run(Array(input[i * per..<(i + 1) * per]))
                let rows = Array(ours[i * rowCount..<(i + 1) * rowCount])
                let differing = zip(single, rows).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "\(what): image \(i) alone vs in the batch")
            }
        }
        print(table.joined(separator: "\n"))
    }
}
