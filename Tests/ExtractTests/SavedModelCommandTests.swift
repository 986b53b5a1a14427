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

    /// A trunk with two heads: `-o x.npz` holds one array per output, named by the output layer,
    /// beside the paths; `-o x.npy` is refused before any image is read, naming the outputs.
    func testTwoOutputsGoToOneNpz() throws {
        let rows = try check(group: "two_outputs")
        XCTAssertEqual(Set(rows.map(\.output)), ["species", "is_cat"])
        let idx = try index()
        let c = try XCTUnwrap(idx.cases.first { $0.group == "two_outputs" })
        let npz = try Npz.read(tmp.appendingPathComponent("\(c.name).npz").path)
        // The outputs by name, beside the archive's own paths, labels and class_names.
        XCTAssertTrue(Set(npz.keys).isSuperset(of: ["species", "is_cat", "paths"]), "\(npz.keys)")
        XCTAssertNil(npz["features"])
        XCTAssertEqual(npz["is_cat"]?.shape, [idx.filenames.count, 1])

        let out = tmp.appendingPathComponent("one.npy").path
        let r = try runExtract(["--weights", Fixtures.path(c.file), Fixtures.path(idx.images), "-o", out] + c.args)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 outputs (species, is_cat)"), r.stderr)
        XCTAssertTrue(r.stderr.contains(".npz"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix("one") }, [])

        // --layer takes one of them, to a plain .npy.
        let r2 = try runExtract(
            ["--weights", Fixtures.path(c.file), Fixtures.path(idx.images), "-o", out, "--layer", "is_cat", "--quiet"]
                + c.args)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let keras = try Npy.read(
            Data(contentsOf: URL(fileURLWithPath: Fixtures.path(try XCTUnwrap(c.outputs["is_cat"])))), name: "is_cat")
        let ours = try Npy.read(Data(contentsOf: URL(fileURLWithPath: out)), name: out)
        XCTAssertTrue(Self.passes(Agreement(ours: ours.values, keras: keras.values)))
    }

    /// --class-names names the saved model's own classes: NAME.predictions.csv ranks each
    /// image's output as Keras' argsort does, with the names of the file; a file of another
    /// length is refused before any image is read.
    func testClassNamesGivePredictions() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.cases.first { $0.group == "sample" && $0.layer == nil })
        let keras = try Npy.read(
            Data(contentsOf: URL(fileURLWithPath: Fixtures.path(try XCTUnwrap(c.outputs["dense"])))), name: "dense")
        let width = try XCTUnwrap(keras.shape.last)
        let names = (0..<width).map { "breed \($0)" }
        let classes = tmp.appendingPathComponent("classes.txt")
        try Data(names.map { $0 + "\n" }.joined().utf8).write(to: classes)
        let out = tmp.appendingPathComponent("probs.npy").path
        let r = try runExtract(
            [
                "--weights", Fixtures.path(c.file), Fixtures.path(idx.images), "-o", out, "--class-names", classes.path,
                "--top", "3",
            ] + c.args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let csv = try String(contentsOfFile: tmp.appendingPathComponent("probs.predictions.csv").path, encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "row,path,rank,label,class,score")
        XCTAssertEqual(lines.count, 1 + 3 * idx.filenames.count)
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",").map(String.init)
            let (row, rank) = (i / 3, i % 3)
            let values = Array(keras.values[row * width..<(row + 1) * width])
            let order = values.indices.sorted { values[$0] > values[$1] }
            XCTAssertEqual(Int(fields[2]), rank + 1, line)
            XCTAssertEqual(Int(fields[3]), order[rank], line)
            XCTAssertEqual(fields[4], names[order[rank]], line)
            XCTAssertEqual(Float(fields[5]) ?? -1, values[order[rank]], accuracy: 1e-5, line)
        }
        // Printed as --include-top prints, one line per image.
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.contains(": breed ") }.count, idx.filenames.count)
        let record = try RunRecord.read(tmp.appendingPathComponent("probs.run.json").path)
        XCTAssertEqual(record.classNamesFile, classes.path)
        XCTAssertEqual(record.top, 3)

        try Data("a\nb\n".utf8).write(to: classes)
        let bad = tmp.appendingPathComponent("bad.npy").path
        let r2 = try runExtract(
            ["--weights", Fixtures.path(c.file), Fixtures.path(idx.images), "-o", bad, "--class-names", classes.path]
                + c.args)
        XCTAssertEqual(r2.status, 1, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("lists 2 classes"), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("dense \(width)"), r2.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad))
    }

    /// Files the oldest Keras that installs here wrote (2.3.1 on Theano; scripts/setup.sh
    /// --old-keras): the Keras 2 config dialect, layer names numbered from 1, and Theano's
    /// flipped convolution kernels, against Theano's own predict.
    func testOldestKerasFiles() throws {
        let rows = try check(group: "old_keras", index: "saved_models/old_keras/index.json")
        XCTAssertEqual(Set(rows.map(\.name)).count, 2, "small CNN and a nested MobileNetV2")
    }

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
