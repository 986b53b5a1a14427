import Features
import Foundation
import TestSupport
import XCTest

/// `extract --include-top` end to end: the built binary on the photographs with a classifier's
/// weights (scripts/make_fixtures.py reference/mobilenetv2_1.0_top_224.h5), against Keras'
/// probabilities and `decode_predictions(top=5)` of them, Keras reading the project's class
/// index (scripts/make_feature_references.py TOP_E2E).
final class IncludeTopCommandTests: XCTestCase {
    struct Index: Decodable {
        struct Photos: Decodable { let photos: String; let filenames: [String] }
        struct Case: Decodable {
            let file: String; let shape: [Int]; let architecture: String; let size: Int; let weights: String
            /// Per image, decode_predictions' (wnid, name, probability) rows.
            let decoded: [[[Decoded]]]
        }
        enum Decoded: Decodable {
            case text(String), number(Double)
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) {
                    self = .text(s)
                } else {
                    self = .number(try c.decode(Double.self))
                }
            }
            var text: String { if case .text(let s) = self { return s } else { return "" } }
            var number: Double { if case .number(let d) = self { return d } else { return .nan } }
        }
        struct Top: Decodable { let class_index: String; let cases: [String: Case] }
        let e2e: Photos
        let top: Top
    }

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("top-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func index() throws -> Index {
        try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
    }

    /// Raw float32 (a reference file), or the data of a version 1 .npy.
    func floats(_ path: String, npy: Bool = false) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let start = npy ? 10 + (Int(data[8]) | Int(data[9]) << 8) : 0
        return data[start...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// The class index the fixtures gave Keras is the project's table, line for line.
    func testClassIndexIsTheOneKerasReads() throws {
        let idx = try index()
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/" + idx.top.class_index))))
            as? [String: [String]]
        let keras = try XCTUnwrap(json)
        XCTAssertEqual(keras.count, 1000)
        XCTAssertEqual(ImageNetClasses.all.count, 1000)
        for (i, c) in ImageNetClasses.all.enumerated() {
            XCTAssertEqual(keras["\(i)"], [c.wnid, c.name], "class \(i)")
        }
        XCTAssertEqual([ImageNetClasses.all[0].wnid, ImageNetClasses.all[0].name], ["n01440764", "tench"])
        // Keras' names repeat: two cranes (bird, machine), two maillots.
        XCTAssertEqual(ImageNetClasses.all[134].name, ImageNetClasses.all[517].name)
    }

    func testProbabilitiesAndTopFiveMatchKerasDecodePredictions() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.top.cases["mobilenetv2_top"])
        let out = tmp.appendingPathComponent("probs.npy").path
        let r = try runExtract([
            "--weights", Fixtures.path(c.weights), "--model", "mobilenetv2", "--include-top",
            Fixtures.path(idx.e2e.photos), "-o", out,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard r.status == 0 else { return }
        XCTAssertTrue(r.stderr.contains("1000 class probabilities per image"), r.stderr)

        // The matrix: (N, 1000) float32, Keras' probabilities within the tolerance, rows summing to 1.
        let ours = try floats(out, npy: true)
        let keras = try floats(Fixtures.path("features/" + c.file))
        XCTAssertEqual(ours.count, keras.count)
        let n = c.shape[0]
        var worst = 0.0
        for row in 0..<n {
            let a = Agreement(
                ours: Array(ours[row * 1000..<(row + 1) * 1000]), keras: Array(keras[row * 1000..<(row + 1) * 1000]))
            XCTAssertTrue(a.passes(), "row \(row): \(a.scaledError) \(a.cosine)")
            worst = max(worst, a.scaledError)
            XCTAssertEqual(ours[row * 1000..<(row + 1) * 1000].reduce(0, +), 1, accuracy: 1e-5)
        }
        print("include-top probabilities: \(n) images, worst max abs err / max|keras| \(worst)")

        // stdout: one line per image, decode_predictions' names in its order, 4 decimals.
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, n, r.stdout)
        // NAME.predictions.csv: row, path, rank, wnid, name, probability; 5 lines per image.
        let csv = try String(contentsOfFile: tmp.appendingPathComponent("probs.predictions.csv").path, encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(csv.first, ["row", "path", "rank", "wnid", "name", "probability"])
        XCTAssertEqual(csv.count, 1 + 5 * n)
        for (row, expected) in c.decoded.enumerated() {
            let names = expected.map { $0[1].text }
            XCTAssertTrue(lines[row].hasPrefix(idx.e2e.filenames[row] + ": "), lines[row])
            let printed = lines[row].dropFirst(idx.e2e.filenames[row].count + 2).components(separatedBy: ", ")
            XCTAssertEqual(printed.map { String($0.split(separator: " ")[0]) }, names, "row \(row)")
            for (k, e) in expected.enumerated() {
                let p = try XCTUnwrap(Double(printed[k].split(separator: " ")[1]))
                XCTAssertEqual(p, e[2].number, accuracy: 5.1e-5, "row \(row) rank \(k + 1)")
                let line = csv[1 + row * 5 + k]
                XCTAssertEqual(line[0...4], ["\(row)", idx.e2e.filenames[row], "\(k + 1)", e[0].text, e[1].text])
                let q = try XCTUnwrap(Double(line[5]))
                XCTAssertEqual(q, e[2].number, accuracy: 1e-4 * e[2].number, "row \(row) rank \(k + 1): \(q)")
            }
        }
        let record =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: tmp.appendingPathComponent("probs.run.json"))) as? [String: Any]
        XCTAssertEqual(record?["include_top"] as? Bool, true)
        XCTAssertEqual(record?["top"] as? Int, 5)
        XCTAssertEqual(record?["features"] as? Int, 1000)

        // --top 3 into an .npz: the same probabilities, three classes per image.
        let npz = tmp.appendingPathComponent("three.npz").path
        let three = try runExtract([
            "--weights", Fixtures.path(c.weights), "--model", "mobilenetv2", "--include-top", "--top", "3",
            "--quiet", Fixtures.path(idx.e2e.photos), "-o", npz,
        ])
        XCTAssertEqual(three.status, 0, three.stderr)
        XCTAssertEqual(three.stdout.split(separator: "\n").first?.components(separatedBy: ", ").count, 3)
        let rows = try String(contentsOfFile: tmp.appendingPathComponent("three.predictions.csv").path, encoding: .utf8)
        XCTAssertEqual(rows.split(separator: "\n").count, 1 + 3 * n)
    }

    /// Usage errors (exit 64, one line saying why) and weights without a classifier (exit 1).
    func testWhatIncludeTopRefuses() throws {
        let photos = Fixtures.path("images/photos")
        let out = tmp.appendingPathComponent("p.npy").path
        let cases: [([String], String)] = [
            (
                ["--model", "resnet50", "--include-top", "--pooling", "avg"],
                "--pooling applies to features without the classifier"
            ),
            (
                ["--model", "resnet50", "--include-top", "--layer", "conv4_block6_out"],
                "--layer takes features from inside the backbone"
            ),
            (["--model", "vgg16", "--include-top", "--input-size", "97"], "weights fit 224×224 inputs only"),
            (["--model", "resnet50", "--top", "3"], "add --include-top"),
            (["--model", "resnet50", "--include-top", "--top", "0"], "--top must be between 1 and 1000"),
        ]
        for (args, message) in cases {
            let r = try runExtract(args + [photos, "-o", out])
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        // A features file (include_top=False) cannot give probabilities, and the reverse.
        let notop = try runExtract([
            "--weights", Fixtures.path("reference/mobilenet_1.0_224.h5"), "--include-top", photos, "-o", out,
        ])
        XCTAssertEqual(notop.status, 1, notop.stderr)
        XCTAssertTrue(notop.stderr.contains("has no ImageNet classifier"), notop.stderr)
        let top = try runExtract([
            "--weights", Fixtures.path("reference/mobilenetv2_1.0_top_224.h5"), photos, "-o", out,
        ])
        XCTAssertEqual(top.status, 1, top.stderr)
        XCTAssertTrue(top.stderr.contains("add --include-top"), top.stderr)
        // The same with --model: the file is the other half of the model.
        let named = try runExtract([
            "--weights", Fixtures.path("reference/mobilenetv2_1.0_top_224.h5"), "--model", "mobilenetv2", photos, "-o",
            out,
        ])
        XCTAssertEqual(named.status, 1, named.stderr)
        XCTAssertTrue(named.stderr.contains("add --include-top"), named.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        let help = try runExtract(["run", "--help"])
        for option in ["--include-top", "--top <k>", "predictions.csv", "decode_predictions"] {
            XCTAssertTrue(help.stdout.contains(option), option)
        }
    }
}
