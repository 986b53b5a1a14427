import Features
import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// Every backbone reference `scripts/make_fixtures.py` writes (BACKBONE_REFERENCES: each family
/// at an odd size, the seed models at their default size; seeded weights and BatchNorm
/// statistics in the published legacy layout; Keras `predict` of the feature map and of
/// pooling "avg" and "max"; for the `_top` ids the include_top=True probabilities) against the
/// graph `Backbone` builds for the same catalog id.
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
        /// Arrays whose shape follows the input size (VGG16_top's fc1 below 224).
        let shapes: [String: [Int]]
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
                layer: e["layer"] as? String, shape: try XCTUnwrap(e["shape"] as? [Int]),
                shapes: e["shapes"] as? [String: [Int]] ?? [:])
        }.sorted { ($0.architecture, $0.size, $0.output) < ($1.architecture, $1.size, $1.output) }
    }

    func testEveryBackboneReferenceMatchesKeras() throws {
        let refs = try Self.references().filter { !$0.architecture.hasSuffix(Backbone.topSuffix) }
        XCTAssertGreaterThanOrEqual(refs.count, 132, "BACKBONE_REFERENCES shrank")
        try check(refs)
    }

    /// The include_top=True references (TOP_REFERENCES): (1000) probabilities.
    func testEveryClassifierReferenceMatchesKeras() throws {
        let refs = try Self.references().filter { $0.architecture.hasSuffix(Backbone.topSuffix) }
        XCTAssertGreaterThanOrEqual(refs.count, 7, "TOP_REFERENCES shrank")
        try check(refs)
    }

    func check(_ refs: [Reference]) throws {
        var table = [
            "| model | input | output | max abs keras | max abs err / max abs keras | cosine |",
            "|---|---|---|---|---|---|",
        ]
        var bound: (path: String, weights: BoundWeights)?
        for r in refs {
            let what = "\(r.architecture) \(r.size) \(r.layer.map { "layer \($0)" } ?? "\(r.pooling)")"
            if bound?.path != r.weights {
                let file = try KerasWeightFile.open(Fixtures.path(r.weights))
                bound = (r.weights, try Binder.bind(file, to: architecture(r.architecture, shapes: r.shapes)))
            }
            let graph =
                try r.layer.map {
                    try Backbone.graph(r.architecture, height: r.size, width: r.size, layer: $0, pooling: r.pooling)
                } ?? Backbone.graph(r.architecture, height: r.size, width: r.size, pooling: r.pooling)
            let model = try CompiledGraph(graph, weights: bound!.weights)
            XCTAssertEqual([r.shape[0]] + model.outputShape.dimensions, r.shape, what)
            let input = try floats(r.input)
            let keras = try floats(r.output)
            let ours = try model.run(input)
            let s = compare(ours, keras, what)
            table.append(
                String(
                    format: "| %@ | %d | %@ %@ | %.3g | %.2e | 1-%.0e |", r.architecture, r.size,
                    r.layer ?? r.pooling.rawValue, "\(r.shape)", s.maxKeras, s.scaledError, 1 - s.cosine))
            // Random weights must still leave a live signal, or the comparison proves little.
            XCTAssertGreaterThan(keras.filter { $0 > 0 }.count, keras.count / 10, what)
            if r.architecture.hasSuffix(Backbone.topSuffix) {
                try assertClassifierHasTeeth(graph, bound!.weights, input: input, keras: keras, what)
            }

            // One image at a time, or the batch on two threads, gives the same rows.
            guard r.pooling == .none else { continue }
            if r.architecture == "VGG16", r.layer == nil {
                // From 20×20 outputs up F(4×4), below F(2×2) (CompiledGraph.winogradTile).
                let tiles = Set(
                    model.steps.compactMap { if case .winograd(_, let m, _, _) = $0.kind { m } else { nil } })
                XCTAssertEqual(tiles, [2, 4], what)
            }
            // Without Winograd (`--no-winograd`): every convolution by im2col + GEMM.
            if model.steps.contains(where: { if case .winograd = $0.kind { true } else { false } }) {
                let direct = try CompiledGraph(graph, weights: bound!.weights, options: .init(winograd: false))
                XCTAssertFalse(direct.steps.contains { if case .winograd = $0.kind { true } else { false } }, what)
                let d = compare(try direct.run(input), keras, "\(what) without Winograd")
                table.append(
                    String(
                        format: "| %@ | %d | %@ without Winograd | %.3g | %.2e | 1-%.0e |", r.architecture, r.size,
                        r.layer ?? r.pooling.rawValue, s.maxKeras, d.scaledError, 1 - d.cosine))
            }
            let parallel = try model.run(input, threads: 2)
            XCTAssertEqual(zip(parallel, ours).filter { $0 != $1 }.count, 0, "\(what): 2 threads vs 1")
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

    /// The probabilities are spread enough for the comparison to fail on a plausible bug:
    /// the classifier without its bias, and (VGG) a channel-major Flatten, each leave the
    /// tolerance by far.
    func assertClassifierHasTeeth(
        _ graph: Graph, _ weights: BoundWeights, input: [Float], keras: [Float], _ what: String
    ) throws {
        let classifier = try XCTUnwrap(weights.layers.last)
        func altered(_ layer: String, _ change: (BoundArray) -> [Float]?) -> BoundWeights {
            BoundWeights(
                architecture: weights.architecture, method: weights.method,
                layers: weights.layers.map { l in
                    guard l.name == layer else { return l }
                    return BoundLayer(
                        name: l.name, className: l.className, sourceName: l.sourceName,
                        arrays: l.arrays.map { a in
                            BoundArray(name: a.name, shape: a.shape, values: change(a) ?? a.values)
                        })
                })
        }
        var mutants = [
            (
                "no bias in \(classifier.name)",
                altered(classifier.name) { a in
                    a.name.hasSuffix("/bias") ? [Float](repeating: 0, count: a.values.count) : nil
                }
            )
        ]
        // Flatten of an (H, W, C) map in (C, H, W) order instead: fc1's rows permuted.
        if let flatten = graph.nodes.first(where: { $0.op == .flatten }),
            let dense = graph.nodes.first(where: { $0.inputs == [flatten.id] })
        {
            let s = graph.shape(flatten.inputs[0])
            mutants.append(
                (
                    "channel-major Flatten",
                    altered(dense.name) { a in
                        guard a.name.hasSuffix("/kernel") else { return nil }
                        let units = a.shape[1]
                        var rows = [Float](repeating: 0, count: a.values.count)
                        for p in 0..<(s.height * s.width) {
                            for c in 0..<s.channels {
                                let (from, to) = (p * s.channels + c, c * s.height * s.width + p)
                                for u in 0..<units { rows[to * units + u] = a.values[from * units + u] }
                            }
                        }
                        return rows
                    }
                ))
        }
        for (bug, w) in mutants {
            let a = Agreement(ours: try CompiledGraph(graph, weights: w).run(input), keras: keras)
            print("\(what) with \(bug): max abs err / max|keras| \(a.scaledError), cosine \(a.cosine)")
            XCTAssertGreaterThan(a.scaledError, 1e-2, "\(what): \(bug) must leave the tolerance far behind")
        }
    }
}
