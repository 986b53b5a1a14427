import Features
import Foundation
import TestSupport
import XCTest

/// The main job end to end: the built `extract` binary on a folder of real photographs and
/// their variants (scripts/make_images.py), against the features Keras computes for the same
/// files the way users compute them (scripts/make_feature_references.py E2E_CASES), then read
/// back by numpy, h5py and scikit-learn as a user's script would.
final class RunCommandTests: XCTestCase {
    struct Index: Decodable {
        struct Case: Decodable {
            let file: String; let shape: [Int]; let architecture: String; let size: Int; let weights: String
            let interpolation: String; let keep_aspect_ratio: Bool; let resize: String; let pooling: String
            /// An early block whose pooled output follows the pixels (see EARLY_LAYER).
            let layer: String?
        }
        struct E2E: Decodable {
            let photos: String; let filenames: [String]; let labels: [Int]; let classes: [String];
            let cases: [String: Case]
        }
        let e2e: E2E
    }

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func index() throws -> Index {
        try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/index.json"))))
    }

    /// A float32 (N, D) .npy as numpy writes it (header checked).
    func readNpy(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(Array(data.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0, "header padded to 64 bytes")
        let header = String(decoding: data[10..<10 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<f4'"), header)
        let dims = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let values = data[(10 + headerLength)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(values.count, dims.reduce(1, *))
        return (dims, values)
    }

    /// Row-by-row tolerance check; with `names`, prints each image's error (the per-variant
    /// table of the closing note).
    func compareRows(_ ours: [Float], _ keras: [Float], rows: Int, _ what: String, names: [String]? = nil) {
        XCTAssertEqual(ours.count, keras.count, what)
        guard ours.count == keras.count, rows > 0 else { return }
        let width = ours.count / rows
        var worst = 0.0, worstRow = 0
        for r in 0..<rows {
            let a = ours[r * width..<(r + 1) * width].map(Double.init)
            let b = keras[r * width..<(r + 1) * width].map(Double.init)
            let maxK = b.map(abs).max() ?? 0
            let err = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            let dot = zip(a, b).map(*).reduce(0, +)
            let cosine =
                dot / (a.map { $0 * $0 }.reduce(0, +).squareRoot() * b.map { $0 * $0 }.reduce(0, +).squareRoot())
            if err / max(maxK, 1e-12) > worst { (worst, worstRow) = (err / max(maxK, 1e-12), r) }
            if let names {
                print(
                    "  " + names[r].padding(toLength: 36, withPad: " ", startingAt: 0)
                        + String(
                            format: "max abs err / max|keras| %.2e  cosine 1-%.0e", err / max(maxK, 1e-12), 1 - cosine))
            }
            XCTAssertLessThanOrEqual(err, 1e-4 * maxK, "\(what) row \(r)")
            XCTAssertGreaterThanOrEqual(cosine, 0.99999, "\(what) row \(r)")
        }
        print("\(what): \(rows) images, worst row \(worstRow) max abs err / max|keras| \(worst)")
    }

    func run(_ c: Index.Case, photos: String, output: String, extra: [String] = []) throws -> CommandResult {
        var args = [
            "--weights", Fixtures.path(c.weights), "--model", c.architecture.components(separatedBy: "_")[0],
            "--pooling", c.pooling, "--input-size", "\(c.size)", "--interpolation", c.interpolation,
            "--resize", c.resize, photos, "-o", output,
        ]
        if c.architecture.hasPrefix("MobileNet_") {
            args += ["--alpha", String(c.architecture.dropFirst("MobileNet_".count))]
        }
        if c.keep_aspect_ratio { args.append("--keep-aspect-ratio") }
        if let layer = c.layer { args += ["--layer", layer] }
        return try runExtract(args + extra)
    }

    func testEveryCaseMatchesKerasOnRealPhotos() throws {
        let idx = try index()
        XCTAssertGreaterThanOrEqual(idx.e2e.filenames.count, 10)
        for (name, c) in idx.e2e.cases.sorted(by: { $0.key < $1.key }) {
            let out = tmp.appendingPathComponent("\(name).npy").path
            let r = try run(c, photos: Fixtures.path(idx.e2e.photos), output: out)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            guard r.status == 0 else { continue }
            let (shape, ours) = try readNpy(out)
            XCTAssertEqual(shape, c.shape, name)
            let keras = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/" + c.file))).withUnsafeBytes
            {
                Array($0.bindMemory(to: Float.self))
            }
            compareRows(
                ours, keras, rows: c.shape[0],
                "\(name) (\(c.architecture) \(c.resize) \(c.interpolation)\(c.keep_aspect_ratio ? " keep-aspect" : ""), pooling \(c.pooling))",
                names: name == "mobilenet_flow_early" ? idx.e2e.filenames : nil)
        }
    }

    /// The end-to-end comparison has teeth: the wrong resize filter is caught at the early layer.
    func testAWrongResizeIsCaught() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.e2e.cases["mobilenet_flow_early"])
        let out = tmp.appendingPathComponent("wrong.npy").path
        let r = try run(c, photos: Fixtures.path(idx.e2e.photos), output: out, extra: ["--interpolation", "bilinear"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (_, ours) = try readNpy(out)
        let keras = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("features/" + c.file))).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }
        let width = c.shape[1]
        let caught = (0..<c.shape[0]).filter { row in
            let a = Agreement(
                ours: Array(ours[row * width..<(row + 1) * width]), keras: Array(keras[row * width..<(row + 1) * width])
            )
            return !a.passes()
        }.count
        print("bilinear instead of nearest: \(caught) of \(c.shape[0]) images beyond tolerance at \(c.layer ?? "")")
        XCTAssertGreaterThanOrEqual(caught, c.shape[0] - 3, "a wrong resize must show (tiny images resize alike)")
    }

    func testSideFilesRunRecordAndALogisticRegressionClient() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.e2e.cases["densenet121_flow"])
        let out = tmp.appendingPathComponent("feats.npy").path
        let r = try run(c, photos: Fixtures.path(idx.e2e.photos), output: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        let stem = tmp.appendingPathComponent("feats").path
        let classes = try String(contentsOfFile: stem + ".classes.txt", encoding: .utf8)
        XCTAssertEqual(classes, idx.e2e.classes.map { $0 + "\n" }.joined())
        let csv = try String(contentsOfFile: stem + ".index.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "row,path,label,class")
        XCTAssertEqual(csv.count, idx.e2e.filenames.count + 1)
        let record =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stem + ".run.json")))
            as? [String: Any]
        XCTAssertEqual((record?["counts"] as? [String: Int])?["written"], idx.e2e.filenames.count)
        XCTAssertEqual((record?["input"] as? [String: Any])?["interpolation"] as? String, "nearest")
        XCTAssertNotNil((record?["model"] as? [String: Any])?["weights_hash"] as? String)
        // The record reads back as the typed value the job wrote, and writes the same bytes.
        let json = try Data(contentsOf: URL(fileURLWithPath: RunRecord.path(forOutput: out)))
        let typed = try RunRecord.read(RunRecord.path(forOutput: out))
        XCTAssertEqual(try typed.json(), json)
        XCTAssertEqual(typed.counts.written, idx.e2e.filenames.count)
        XCTAssertEqual(typed.classes, idx.e2e.classes)
        // No temporary file is left beside the outputs.
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(left, [])

        // The seeds' workflow: class folders -> features -> logistic regression, in Python.
        let client = try runPython(
            """
            import sys, numpy as np
            from sklearn.linear_model import LogisticRegression
            X = np.load(sys.argv[1] + ".npy"); y = np.load(sys.argv[1] + ".labels.npy")
            names = [l.rstrip("\\n") for l in open(sys.argv[1] + ".classes.txt", encoding="utf-8")]
            assert X.dtype == np.float32 and X.ndim == 2 and y.dtype == np.int64 and len(X) == len(y), (X.shape, y.shape)
            clf = LogisticRegression(max_iter=2000).fit(X, y)
            print(len(X), X.shape[1], len(names), clf.score(X, y))
            """, [stem])
        XCTAssertEqual(client.status, 0, client.stderr)
        let fields = client.stdout.split(separator: " ").map(String.init)
        XCTAssertEqual(fields.prefix(3), ["\(idx.e2e.filenames.count)", "\(c.shape[1])", "\(idx.e2e.classes.count)"])
        print("LogisticRegression on the tool's features: training accuracy \(fields.last ?? "?")")
    }

    /// --fast-decode is opt-in, said on stderr and in the run record, and really decodes less:
    /// at 97 pixels the 640×427 JPEGs are decoded at 1/4 scale, so their features change, and
    /// only theirs.
    func testFastDecodeIsLabelledAndChangesThePixels() throws {
        let idx = try index()
        let flow = try XCTUnwrap(idx.e2e.cases["densenet121_flow"])
        let c = Index.Case(
            file: flow.file, shape: flow.shape, architecture: flow.architecture, size: 97,
            weights: flow.weights, interpolation: flow.interpolation,
            keep_aspect_ratio: flow.keep_aspect_ratio, resize: flow.resize, pooling: flow.pooling,
            layer: nil)
        let exact = tmp.appendingPathComponent("exact.npy").path
        let fast = tmp.appendingPathComponent("fast.npy").path
        let plain = try run(c, photos: Fixtures.path(idx.e2e.photos), output: exact)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stderr.contains("--fast-decode"), plain.stderr)
        let r = try run(c, photos: Fixtures.path(idx.e2e.photos), output: fast, extra: ["--fast-decode"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("--fast-decode: JPEGs are decoded at reduced scale"), r.stderr)
        for (path, flag) in [(exact, false), (fast, true)] {
            let record =
                try JSONSerialization.jsonObject(
                    with: Data(
                        contentsOf: URL(fileURLWithPath: path.replacingOccurrences(of: ".npy", with: ".run.json"))))
                as? [String: Any]
            XCTAssertEqual((record?["input"] as? [String: Any])?["fast_decode"] as? Bool, flag, path)
        }
        let (a, b) = (try readNpy(exact), try readNpy(fast))
        XCTAssertEqual(a.shape, b.shape)
        let width = a.shape[1]
        let changed = (0..<a.shape[0]).filter { r in
            a.values[r * width..<(r + 1) * width] != b.values[r * width..<(r + 1) * width]
        }
        print("--fast-decode at 97: \(changed.count) of \(a.shape[0]) images' features changed")
        // The large JPEGs and their JPEG variants (12 of the 28 files); PNGs, GIFs, BMPs and
        // the tiny images are decoded as before.
        XCTAssertGreaterThanOrEqual(changed.count, 10)
        XCTAssertLessThan(changed.count, a.shape[0])
        XCTAssertTrue(try runExtract(["run", "--help"]).stdout.contains("--fast-decode"))
    }

    func testNpzAndH5CarryTheSameRows() throws {
        let idx = try index()
        let c = try XCTUnwrap(idx.e2e.cases["mobilenet_flow"])
        let photos = Fixtures.path(idx.e2e.photos)
        let npy = tmp.appendingPathComponent("a.npy").path
        XCTAssertEqual(try run(c, photos: photos, output: npy, extra: ["--quiet"]).status, 0)
        for ext in ["npz", "h5"] {
            let path = tmp.appendingPathComponent("a.\(ext)").path
            let r = try run(c, photos: photos, output: path, extra: ["--quiet"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stderr, "", "--quiet prints nothing on success")
        }
        let check = try runPython(
            """
            import sys, numpy as np, h5py
            base = sys.argv[1]
            X = np.load(base + ".npy")
            z = np.load(base + ".npz")
            assert np.array_equal(z["features"], X), "npz features"
            assert list(z["paths"]) == [l.split(",")[1] for l in open(base + ".index.csv").read().splitlines()[1:]]
            assert np.array_equal(z["labels"], np.load(base + ".labels.npy"))
            with h5py.File(base + ".h5") as f:
                assert np.array_equal(f["features"][()], X), "h5 features"
                assert np.array_equal(f["labels"][()], z["labels"])
                assert [p.decode() for p in f["paths"][()]] == list(z["paths"])
                assert [p.decode() for p in f["class_names"][()]] == list(z["class_names"])
                assert "model" in f.attrs["run"]
            print("ok", X.shape)
            """, [tmp.appendingPathComponent("a").path])
        XCTAssertEqual(check.status, 0, check.stderr)
    }
}

/// What goes wrong, as a user meets it: one line on stderr, exit 1, nothing left behind.
final class RunCommandErrorTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("runerr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    var weights: [String] { ["--weights", Fixtures.path("reference/mobilenet_1.0_224.h5"), "--model", "mobilenet"] }

    func errorLines(_ r: CommandResult) -> [Substring] {
        r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
    }

    func testBrokenImagesAreSkippedWithAReasonOrStopTheRunWithStrict() throws {
        let broken = Fixtures.path("images/broken")
        let names = try FileManager.default.contentsOfDirectory(atPath: broken).filter { !$0.hasPrefix(".") }
        XCTAssertFalse(names.isEmpty)
        // One good photo beside the broken files, so the run has something to write.
        let dir = tmp.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in names {
            try FileManager.default.copyItem(atPath: broken + "/" + name, toPath: dir.appendingPathComponent(name).path)
        }
        let photos = Fixtures.path("images/photos")
        let good = try XCTUnwrap(
            FileManager.default.subpaths(atPath: photos)?.sorted().first { $0.lowercased().hasSuffix(".jpg") })
        try FileManager.default.copyItem(
            atPath: photos + "/" + good, toPath: dir.appendingPathComponent("zz_good.jpg").path)

        let out = tmp.appendingPathComponent("f.npy").path
        let r = try runExtract(weights + [dir.path, "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let listed = names.filter(Dataset.isImageName)
        let warnings = r.stderr.split(separator: "\n").filter { $0.hasPrefix("extract: skipped ") }
        XCTAssertEqual(warnings.count, listed.count, r.stderr)
        for name in listed {
            XCTAssertTrue(warnings.contains { $0.contains(name) }, "no warning naming \(name): \(r.stderr)")
        }
        let record =
            try JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent("f.run.json")))
            as? [String: Any]
        XCTAssertEqual((record?["counts"] as? [String: Int])?["written"], 1)
        XCTAssertEqual((record?["skipped"] as? [[String: String]])?.count, listed.count)

        let strict = try runExtract(weights + ["--strict", dir.path, "-o", tmp.appendingPathComponent("s.npy").path])
        XCTAssertEqual(strict.status, 1)
        XCTAssertEqual(errorLines(strict).count, 1, strict.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("s.npy").path))
    }

    func testHelpTeachesTheMainJob() throws {
        let top = try runExtract(["--help"])
        XCTAssertEqual(top.status, 0)
        XCTAssertTrue(top.stdout.contains("extract --model mobilenet --pooling avg imgs/ -o feats.npy"), top.stdout)
        XCTAssertFalse(top.stdout.split(separator: "\n").contains { $0.count > 80 }, "help lines fit 80 columns")
        let run = try runExtract(["run", "--help"])
        XCTAssertEqual(run.status, 0)
        for option in ["--pooling", "--layer", "--interpolation", "--keep-aspect-ratio", "--strict", "Exit status"] {
            XCTAssertTrue(run.stdout.contains(option), option)
        }
        let noModel = try runExtract(["imgs/", "-o", "f.npy"])
        XCTAssertEqual(noModel.status, 64)
        XCTAssertTrue(noModel.stderr.contains("--model"), noModel.stderr)
    }

    func testMissingEmptyUnwritableAndFullDisk() throws {
        let photos = Fixtures.path("images/photos")
        let missing = try runExtract(weights + [tmp.path + "/nope", "-o", tmp.path + "/a.npy"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(errorLines(missing).count, 1)
        XCTAssertTrue(missing.stderr.contains("no such file or folder"), missing.stderr)

        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try runExtract(weights + [empty.path, "-o", tmp.path + "/a.npy"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no images found"), none.stderr)

        let unwritable = try runExtract(weights + [photos, "-o", tmp.path + "/no/such/dir/a.npy"])
        XCTAssertEqual(unwritable.status, 1)
        XCTAssertTrue(unwritable.stderr.contains("does not exist"), unwritable.stderr)

        let usage = try runExtract(weights + [photos, "-o", tmp.path + "/a.csv"])
        XCTAssertEqual(usage.status, 64, usage.stderr)

        // A full disk, as the process sees it: writes fail past a 16 KB file-size limit.
        let out = tmp.appendingPathComponent("full.npy").path
        let quoted = ([extractBinary] + weights + ["--quiet", photos, "-o", out]).map { "'\($0)'" }.joined(
            separator: " ")
        let full = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", "ulimit -f 16; exec \(quoted)"])
        let text = full.stderr
        XCTAssertEqual(full.status, 1, text)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(text.contains("File too large"), text)
        let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0 != "empty" }
        XCTAssertEqual(left, [], "nothing is left behind")

        // .npz and .h5 stream rows to a spool of ours first: the error names the user's file.
        for name in ["full.npz", "full.h5"] {
            let packed = tmp.appendingPathComponent(name).path
            let command = ([extractBinary] + weights + ["--quiet", photos, "-o", packed]).map { "'\($0)'" }
                .joined(separator: " ")
            let r = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", "ulimit -f 16; exec \(command)"])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("writing \(packed) failed: File too large"), r.stderr)
            XCTAssertFalse(r.stderr.contains("features-rows"), r.stderr)
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0 != "empty" }, [], name)
        }
    }
}
