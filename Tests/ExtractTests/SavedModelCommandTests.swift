import FeatureFiles
import Features
import Foundation
import TestSupport
import XCTest

/// `extract --weights MODEL imgs/ -o out.npy` on whole saved models (issue 22): the built binary
/// runs each model of scripts/make_saved_model_fixtures.py (tf-keras 2 .h5, Keras 3 .h5 and
/// .keras) from its saved config and writes what Keras' `model.predict` gives on the same
/// photographs, loaded as `load_img(target_size, interpolation="nearest")` with the default
/// preprocessing (the nested backbone's `preprocess_input`, else none). Each group prints a table
/// of the worst error per case and output, for the issue's closing note.
final class SavedModelCommandTests: XCTestCase {
    struct Index: Decodable {
        let images: String
        let filenames: [String]
        let cases: [Case]
    }

    struct Case: Decodable {
        let name: String
        let group: String
        let file: String
        let writer: String
        let format: String
        let args: [String]
        /// Output name -> Keras' (N, D) float32 .npy.
        let outputs: [String: String]
        let input: [Int]
        let preprocess: String
        let layer: String?
        let expectError: [String]?
        let classes: [String]?

        enum CodingKeys: String, CodingKey {
            case name, group, file, writer, format, args, outputs, input, preprocess, layer, classes
            case expectError = "expect_error"
        }
    }

    /// One line of the printed table: the worst disagreement of one output of one case.
    struct Row {
        let name: String
        let output: String
        let agreement: Agreement
    }

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("saved-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func index(_ relative: String = "saved_models/index.json") throws -> Index {
        try JSONDecoder().decode(Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative))))
    }

    /// The project's golden tolerance for whole models: max|ours − keras| <= 1e-5 · max|keras|
    /// (1e-5 at least) and cosine >= 0.99999.
    static func passes(_ a: Agreement) -> Bool {
        a.maxAbsError <= max(1e-5 * a.maxKeras, 1e-5) && a.cosine >= 0.99999
    }

    /// Runs every case of `group` and compares each output with Keras'; prints the table.
    @discardableResult
    func check(group: String, index relative: String = "saved_models/index.json") throws -> [Row] {
        let idx = try index(relative)
        let cases = idx.cases.filter { $0.group == group }
        XCTAssertFalse(cases.isEmpty, "no \(group) cases in \(relative)")
        let images = Fixtures.path(idx.images)
        var rows: [Row] = []
        for c in cases {
            rows += try run(c, images: images, count: idx.filenames.count)
        }
        printTable(group, rows)
        return rows
    }

    func run(_ c: Case, images: String, count: Int) throws -> [Row] {
        let what = "\(c.name) (\(c.file), \(c.writer))"
        // Several outputs need an .npz: one array per output, named by the output layer.
        let out = tmp.appendingPathComponent(c.outputs.count > 1 ? "\(c.name).npz" : "\(c.name).npy").path
        let r = try runExtract(["--weights", Fixtures.path(c.file), images, "-o", out, "--quiet"] + c.args)
        XCTAssertEqual(r.status, 0, "\(what): \(r.stderr)")
        guard r.status == 0 else { return [] }
        var arrays: [String: NpyArray] = [:]
        if c.outputs.count > 1 {
            arrays = try Npz.read(out)
        } else if let name = c.outputs.keys.first {
            arrays[name] = try Npy.read(Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        }
        var rows: [Row] = []
        for (output, expected) in c.outputs.sorted(by: { $0.key < $1.key }) {
            let keras = try Npy.read(
                Data(contentsOf: URL(fileURLWithPath: Fixtures.path(expected))), name: expected)
            guard let ours = arrays[output] else {
                XCTFail("\(what): no output \(output) in \(out) (has \(arrays.keys.sorted()))")
                continue
            }
            // One row per image, the output flattened per image.
            XCTAssertEqual(ours.shape.first, count, "\(what) \(output): rows \(ours.shape)")
            XCTAssertEqual(ours.values.count, keras.values.count, "\(what) \(output): \(ours.shape) vs \(keras.shape)")
            guard ours.values.count == keras.values.count else { continue }
            let a = Agreement(ours: ours.values, keras: keras.values)
            rows.append(Row(name: c.name, output: output, agreement: a))
            XCTAssertTrue(
                Self.passes(a),
                String(
                    format: "%@ output %@: max abs err %.3g (max|keras| %.3g, scaled %.2e), cosine 1-%.1e%@",
                    what, output, a.maxAbsError, a.maxKeras, a.scaledError, 1 - a.cosine,
                    c.classes.map { "; classes \($0.joined(separator: ", "))" } ?? ""))
        }
        return rows
    }

    func printTable(_ group: String, _ rows: [Row]) {
        print("saved models, \(group): case | output | max abs err | max|keras| | scaled | 1 - cosine")
        for row in rows {
            let a = row.agreement
            print(
                String(
                    format: "saved-model | %@ | %@ | %.2e | %.3g | %.2e | %.1e", row.name, row.output,
                    a.maxAbsError, a.maxKeras, a.scaledError, 1 - a.cosine))
        }
    }

    /// ResNet50 (Sequential), Xception (called with training=False), InceptionV3 (built on
    /// base.output), MobileNet: frozen and unfrozen, by each writer.
    func testSeedModels() throws {
        let rows = try check(group: "seed")
        XCTAssertEqual(Set(rows.map(\.name)).count, 24, "4 models × frozen/unfrozen × 3 files")
    }

    /// The README's sample shape (Keras 3 .h5 of MobileNetV2 160 + GAP + Dense(19)), its
    /// probabilities and, with --layer global_average_pooling2d, the pooled features.
    func testSampleShapeAndItsPooledLayer() throws {
        let rows = try check(group: "sample")
        XCTAssertEqual(Set(rows.map(\.output)), ["dense", "global_average_pooling2d"])
    }

    /// preprocess_input called inside the model (tf-keras TFOpLambda nodes, Keras 3 ops): run
    /// with --preprocess none, as the user must say.
    func testModelsThatPreprocessInside() throws { try check(group: "preprocess_inside") }

    /// Random* augmentation layers are the identity at inference; Rescaling(1/255) follows.
    func testAugmentationLayersAreIdentityAtInference() throws { try check(group: "augmentation") }

    /// A (48, 48, 1) input: images read as PIL convert("L").
    func testGrayscaleModel() throws { try check(group: "grayscale") }

    /// Every layer class the builder supports, in small models, by each writer.
    func testLayerZoo() throws { try check(group: "zoo") }

    /// A Lambda layer: one error line naming it, status 1, no output.
    func testLambdaLayerIsRefusedWithOneLine() throws {
        let idx = try index()
        let cases = idx.cases.filter { $0.group == "lambda" }
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let out = tmp.appendingPathComponent("\(c.name).npy").path
            let r = try runExtract(["--weights", Fixtures.path(c.file), Fixtures.path(idx.images), "-o", out] + c.args)
            XCTAssertEqual(r.status, 1, "\(c.name): \(r.stderr)")
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(errors.count, 1, "\(c.name): \(r.stderr)")
            for needle in c.expectError ?? [] {
                XCTAssertTrue(errors.first?.lowercased().contains(needle) ?? false, "\(c.name): \(r.stderr)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(c.name): \(out) written")
        }
    }
}
