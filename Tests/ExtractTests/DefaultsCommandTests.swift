import Features
import Foundation
import TestSupport
import XCTest

/// The command lines users actually type, with the fewest options: every default decided as
/// Keras decides it, from the file, and said (scripts/make_feature_references.py DEFAULTS has
/// Keras' features for each). Before these tests, `--weights mobilenet_1_0_224_tf_no_top.h5`
/// alone ran MobileNet at 128×128 with exit status 0.
final class DefaultsCommandTests: XCTestCase {
    struct Index: Decodable {
        struct Case: Decodable {
            let file: String; let shape: [Int]; let weights: String; let user_file: String
            let options: [String]; let input: [Int]; let source: String
        }
        struct Defaults: Decodable { let photos: String; let cases: [String: Case] }
        let defaults: Defaults
    }

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("defaults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func index() throws -> Index {
        try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
    }

    /// The fixture's weights under the name the user's file has.
    func userFile(_ c: Index.Case) throws -> String {
        let dir = tmp.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(c.user_file).path
        try FileManager.default.copyItem(atPath: Fixtures.path(c.weights), toPath: path)
        return path
    }

    func floats(_ path: String) throws -> [Float] {
        try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// (N, D) float32 rows of a .npy written by the tool.
    func npy(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<10 + headerLength], as: UTF8.self)
        let dims = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let values = data[(10 + headerLength)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (dims, values)
    }

    /// Rows whose max error exceeds 1e-4 of Keras' largest value or whose cosine is below 0.99999.
    func failingRows(_ ours: [Float], _ keras: [Float], rows: Int) -> (failing: Int, worst: Double) {
        guard ours.count == keras.count, rows > 0 else { return (rows, .infinity) }
        let width = ours.count / rows
        var failing = 0, worst = 0.0
        for r in 0..<rows {
            let a = Agreement(
                ours: Array(ours[r * width..<(r + 1) * width]), keras: Array(keras[r * width..<(r + 1) * width]))
            if !a.passes() { failing += 1 }
            worst = max(worst, a.scaledError)
        }
        return (failing, worst)
    }

    func record(_ npy: String) throws -> [String: Any] {
        let path = (npy as NSString).deletingPathExtension + ".run.json"
        return try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    func testTheFewestOptionsGiveKerasFeaturesAtKerasSize() throws {
        let idx = try index()
        XCTAssertGreaterThanOrEqual(idx.defaults.cases.count, 16)
        let photos = Fixtures.path(idx.defaults.photos)
        for (name, c) in idx.defaults.cases.sorted(by: { $0.key < $1.key }) {
            let weights = try userFile(c)
            let out = tmp.appendingPathComponent("\(name).npy").path
            // A saved model's own file runs whole by default (issue 22); these cases check the
            // backbone's features inside it, which --backbone-only keeps.
            let whole = name.hasPrefix("saved_") ? ["--backbone-only"] : []
            let r = try runExtract(["--weights", weights] + c.options + whole + [photos, "-o", out])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            guard r.status == 0 else { continue }
            let (shape, ours) = try npy(out)
            XCTAssertEqual(shape, c.shape, name)
            let keras = try floats(Fixtures.path("features/" + c.file))
            let (failing, worst) = failingRows(ours, keras, rows: c.shape[0])
            print(
                "\(name): \(c.options.joined(separator: " ")) input \(c.input) (\(c.source)): worst max err / max|keras| \(worst)"
            )
            XCTAssertEqual(failing, 0, "\(name): \(failing) rows differ from Keras (worst \(worst))")

            // Said on stderr and in the run record, with where it came from.
            let size = "\(c.input[0])×\(c.input[1])"
            XCTAssertTrue(r.stderr.contains("input \(size) (\(c.source))"), "\(name): \(r.stderr)")
            let model = try XCTUnwrap(try record(out)["model"] as? [String: Any])
            let decided = try XCTUnwrap(model["decided"] as? [String: Any])
            let input = try XCTUnwrap(decided["input_size"] as? [String: Any])
            XCTAssertEqual(input["value"] as? [Int], c.input, name)
            XCTAssertEqual(input["source"] as? String, c.source, name)
            let guessed = r.stderr.split(separator: "\n").filter { $0.hasPrefix("extract: warning:") }
            XCTAssertEqual(
                guessed.count, c.source == "Keras default" ? 1 : 0, "\(name): one warning when guessed: \(r.stderr)")
            XCTAssertEqual(
                model["integrity"] as? String,
                name.hasPrefix("saved_")
                    ? "a saved model of your own: checked by structure only"
                    : "no published hash: checked by structure only",
                name)
        }
    }

    /// Every end-to-end case of RunCommandTests (ResNet50, VGG16, MobileNet, EfficientNetB0,
    /// DenseNet121 in the published layout), typed without --model, --alpha or --input-size:
    /// the file alone decides, and the features are Keras' at Keras' size.
    func testEveryPublishedLayoutFixtureAloneGivesKerasFeatures() throws {
        struct E2E: Decodable {
            struct Case: Decodable {
                let file: String; let shape: [Int]; let size: Int; let weights: String; let interpolation: String
                let keep_aspect_ratio: Bool; let resize: String; let pooling: String; let layer: String?
            }
            let photos: String; let cases: [String: Case]
        }
        struct Index: Decodable { let e2e: E2E }
        let idx = try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
        XCTAssertGreaterThanOrEqual(idx.e2e.cases.count, 10)
        for (name, c) in idx.e2e.cases.sorted(by: { $0.key < $1.key }) {
            let out = tmp.appendingPathComponent("\(name).npy").path
            var args = [
                "--weights", Fixtures.path(c.weights), "--pooling", c.pooling, "--interpolation", c.interpolation,
                "--resize", c.resize, Fixtures.path(idx.e2e.photos), "-o", out,
            ]
            if c.keep_aspect_ratio { args.append("--keep-aspect-ratio") }
            if let layer = c.layer { args += ["--layer", layer] }
            let r = try runExtract(args)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            guard r.status == 0 else { continue }
            XCTAssertTrue(r.stderr.contains("input \(c.size)×\(c.size) ("), "\(name): \(r.stderr)")
            let (failing, worst) = failingRows(
                try npy(out).values, try floats(Fixtures.path("features/" + c.file)), rows: c.shape[0])
            print("\(name) with --weights alone: worst max err / max|keras| \(worst)")
            XCTAssertEqual(failing, 0, "\(name): worst \(worst)")
        }
    }

    /// `--model` alone takes the file Keras would load: input_shape (160, 160, 3) loads the
    /// `_160_` file, nothing loads the 224 one; the features equal the `--weights` runs'.
    func testModelAloneTakesTheFileKerasWouldLoad() throws {
        let idx = try index()
        let home = tmp.appendingPathComponent("keras-home")
        let models = home.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        for name in ["mobilenet_published_224_early", "mobilenet_published_160_early"] {
            let c = try XCTUnwrap(idx.defaults.cases[name])
            try FileManager.default.copyItem(
                atPath: Fixtures.path(c.weights), toPath: models.appendingPathComponent(c.user_file).path)
        }
        for (name, extra) in [
            ("mobilenet_published_224_early", [String]()), ("mobilenet_published_160_early", ["--input-size", "160"]),
        ] {
            let c = try XCTUnwrap(idx.defaults.cases[name])
            let out = tmp.appendingPathComponent("\(name).npy").path
            let r = try runExtract(
                ["--model", "mobilenet", "--no-download"] + extra + c.options + [
                    Fixtures.path(idx.defaults.photos), "-o", out,
                ],
                environment: ["KERAS_HOME": home.path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            guard r.status == 0 else { continue }
            let model = try XCTUnwrap(try record(out)["model"] as? [String: Any])
            XCTAssertEqual(model["weights_file"] as? String, models.appendingPathComponent(c.user_file).path, name)
            let (failing, worst) = failingRows(
                try npy(out).values, try floats(Fixtures.path("features/" + c.file)), rows: c.shape[0])
            XCTAssertEqual(failing, 0, "\(name): worst \(worst)")
        }
    }

    /// The comparison has teeth: the same file run at another size fails at the early block.
    func testAWrongSizeIsCaught() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.defaults.cases["mobilenet_published_224_early"])
        let out = tmp.appendingPathComponent("wrong.npy").path
        let r = try runExtract(
            ["--weights", try userFile(c)] + c.options + [
                "--input-size", "128", Fixtures.path(idx.defaults.photos), "-o", out,
            ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (_, ours) = try npy(out)
        let (failing, _) = failingRows(ours, try floats(Fixtures.path("features/" + c.file)), rows: c.shape[0])
        XCTAssertGreaterThanOrEqual(failing, c.shape[0] - 3, "128 instead of 224 must show")
    }

    func errorLines(_ r: CommandResult) -> [Substring] {
        r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
    }

    func assertRefused(
        _ r: CommandResult, status: Int32, mentions: [String], _ what: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(r.status, status, "\(what): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(
            r.stderr.split(separator: "\n").count, 1, "\(what): one line: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(errorLines(r).count, 1, "\(what): \(r.stderr)", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(r.stderr.contains(m), "\(what): no '\(m)' in \(r.stderr)", file: file, line: line)
        }
    }

    func testAContradictingOptionIsRefusedNamingBoth() throws {
        let idx = try index()
        let published = try userFile(try XCTUnwrap(idx.defaults.cases["mobilenet_published_224"]))
        let saved = try userFile(try XCTUnwrap(idx.defaults.cases["saved_mobilenetv2_160"]))
        let photos = Fixtures.path(idx.defaults.photos)
        let out = tmp.appendingPathComponent("f.npy").path
        for (args, mentions) in [
            (["--model", "mobilenet", "--alpha", "0.5", "--weights", published], ["--alpha 0.5", "alpha 1.0"]),
            (["--weights", published, "--alpha", "0.75"], ["--alpha 0.75", "alpha 1.0"]),
            (["--model", "mobilenet", "--rows", "160", "--weights", published], ["--rows 160", "224×224", "name"]),
            (["--weights", saved, "--input-size", "224"], ["--input-size 224", "160×160", "model config"]),
            (["--model", "resnet50", "--weights", published], ["MobileNet_1.0", "not ResNet50"]),
        ] {
            let r = try runExtract(args + ["--quiet", photos, "-o", out])
            assertRefused(r, status: 1, mentions: mentions, args.joined(separator: " "))
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix("f.") }, [])
        }
    }

    /// One error style: `error: …` on one line, 64 for a bad command line, 1 for bad input.
    func testEveryErrorIsOneLine() throws {
        let photos = Fixtures.path("images/photos")
        let weights = Fixtures.path("reference/mobilenet_1.0_224.h5")
        let out = tmp.appendingPathComponent("f.npy").path
        for (args, status, mention) in [
            (["--model", "nosuchnet", photos, "-o", out], Int32(64), "nosuchnet"),
            (["--weights", weights, "--pooling", "median", photos, "-o", out], 64, "--pooling"),
            (["--weights", weights, "--input-size", "big", photos, "-o", out], 64, "input-size"),
            (["--weights", weights, photos], 64, "output"),
            (["--weights", weights, photos, "-o", tmp.path + "/f.csv"], 64, ".csv"),
            (["--weights", weights, "--threads", "0", photos, "-o", out], 64, "--threads"),
            (["--weights", tmp.path + "/none.h5", photos, "-o", out], 1, "none.h5"),
            (["--weights", weights, photos, "-o", tmp.path], 64, "existing folder"),
        ] as [([String], Int32, String)] {
            let r = try runExtract(args)
            assertRefused(r, status: status, mentions: [mention], args.joined(separator: " "))
            XCTAssertFalse(r.stderr.contains("Error:"), r.stderr)
            XCTAssertFalse(r.stderr.contains("Usage:"), r.stderr)
        }
    }

    /// The input folder and the output folder are checked before weights are looked up or
    /// downloaded: an empty cache and no network must not be what the user hears about.
    func testInputsAndOutputAreCheckedBeforeAnyDownload() throws {
        let home = tmp.appendingPathComponent("keras-home")
        let env = ["KERAS_HOME": home.path]
        let missing = try runExtract(
            ["--model", "mobilenet", tmp.path + "/no-such-folder", "-o", tmp.path + "/f.npy"], environment: env)
        assertRefused(missing, status: 1, mentions: ["no-such-folder"], "missing input")
        let badOut = try runExtract(
            ["--model", "mobilenet", Fixtures.path("images/photos"), "-o", tmp.path + "/nope/f.npy"], environment: env)
        assertRefused(badOut, status: 1, mentions: ["does not exist"], "missing output folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.path), "no download was tried")
    }

    func testModelsListShowsWhatToTypeAndTellsReleasesApart() throws {
        let r = try runExtract(["models"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(Set(lines).count, lines.count, "no two identical rows")
        for token in [
            "--model resnet50 ", "--model resnet50_v0.2 ", "--model mobilenet --alpha 0.25 --rows 128 ",
            "--model mobilenetv3small --alpha 1.0 --minimalistic", "--model resnet50 --include-top",
        ] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(token) }, "no row for \(token): \(r.stdout)")
        }
        XCTAssertTrue(
            lines.contains { $0.hasPrefix("--model mobilenet --alpha 1.0 --rows 224 ") && $0.contains(" none ") })
        // Every token it shows is accepted.
        let v02 = try runExtract(
            ["fetch", "--model", "resnet50_v0.2", "--no-download"], environment: ["KERAS_HOME": tmp.path])
        XCTAssertFalse(v02.stderr.contains("unknown model"), v02.stderr)
    }
}
