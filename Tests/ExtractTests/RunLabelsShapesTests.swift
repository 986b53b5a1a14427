import FeatureFiles
import Features
import Foundation
import TestSupport
import XCTest

/// The built binary with stable labels (--classes, --classes-from), table inputs and Keras'
/// feature-map shapes (--pooling none, --flatten), on copies of the photographs
/// (scripts/make_images.py) with the MobileNet reference weights at a small input size; the
/// listing rules themselves are checked against Keras in FeaturesTests.
final class RunLabelsShapesTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// MobileNet at 64×64: a (2, 2, 1024) map per image.
    var model: [String] {
        ["--weights", Fixtures.path("reference/mobilenet_1.0_224.h5"), "--model", "mobilenet", "--input-size", "64"]
    }

    func path(_ relative: String) -> String { tmp.appendingPathComponent(relative).path }

    func errorLines(_ r: CommandResult) -> [Substring] {
        r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
    }

    func record(_ stem: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(stem + ".run.json")))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func npy(_ relative: String) throws -> NpyArray {
        try Npy.read(Data(contentsOf: URL(fileURLWithPath: path(relative))), name: relative)
    }

    /// The float32 data of a .npy, as bytes (the part after the header).
    func npyData(_ relative: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return data.suffix(from: 10 + (Int(data[8]) | Int(data[9]) << 8))
    }

    /// Photographs, a few per made-up class: `layout` maps a class folder to how many photos
    /// (the first ones of images/photos, in sorted order) it gets, under `root`.
    func makeFolder(_ root: String, _ layout: [(String, [Int])]) throws -> [String: String] {
        let photos = Fixtures.path("images/photos")
        let files = try XCTUnwrap(FileManager.default.subpaths(atPath: photos)).filter(Dataset.isImageName).sorted()
        XCTAssertGreaterThanOrEqual(files.count, 6)
        var copied: [String: String] = [:]  // our relative path -> the photo
        for (cls, picks) in layout {
            try FileManager.default.createDirectory(atPath: path("\(root)/\(cls)"), withIntermediateDirectories: true)
            for k in picks {
                let name = "\(cls)/p\(k).\((files[k] as NSString).pathExtension)"
                try FileManager.default.copyItem(atPath: photos + "/" + files[k], toPath: path("\(root)/\(name)"))
                copied[name] = files[k]
            }
        }
        return copied
    }

    func testFeatureMapIsWrittenInKerasShapeAndFlattenKeepsTheBytes() throws {
        let photos = Fixtures.path("images/photos")
        for (out, extra) in [
            ("map.npy", ["--pooling", "none"]), ("flat.npy", ["--pooling", "none", "--flatten"]),
            ("avg.npy", ["--pooling", "avg"]), ("map.npz", ["--pooling", "none"]),
            ("map.h5", ["--pooling", "none"]),
        ] {
            let r = try runExtract(model + extra + ["--quiet", photos, "-o", path(out)])
            XCTAssertEqual(r.status, 0, "\(out): \(r.stderr)")
        }
        let map = try npy("map.npy"), flat = try npy("flat.npy"), avg = try npy("avg.npy")
        let n = avg.shape[0]
        XCTAssertGreaterThanOrEqual(n, 10)
        XCTAssertEqual(map.shape, [n, 2, 2, 1024])
        XCTAssertEqual(flat.shape, [n, 2 * 2 * 1024])
        XCTAssertEqual(avg.shape, [n, 1024])
        XCTAssertEqual(try npyData("map.npy"), try npyData("flat.npy"), "only the header's shape differs")
        for (stem, shape, flattened) in [
            ("map", [2, 2, 1024], false), ("flat", [2, 2, 1024], true), ("avg", [1024], false),
        ] {
            let r = try record(stem)
            XCTAssertEqual(r["output_shape"] as? [Int], shape, stem)
            XCTAssertEqual(r["flattened"] as? Bool, flattened, stem)
        }
        // The axes are Keras' (H, W, C): averaging over H and W gives the avg-pooled features,
        // and reading the same floats as (C, H·W) does not.
        let check = try runPython(
            """
            import sys, numpy as np, h5py
            base = sys.argv[1]
            X = np.load(base + "/map.npy"); avg = np.load(base + "/avg.npy")
            assert X.shape[1:] == (2, 2, 1024), X.shape
            assert np.allclose(X.mean(axis=(1, 2)), avg, rtol=1e-5, atol=1e-6 * np.abs(avg).max())
            assert not np.allclose(X.reshape(len(X), 1024, 4).mean(-1), avg, rtol=1e-3, atol=1e-3 * np.abs(avg).max())
            z = np.load(base + "/map.npz")
            assert z["features"].shape == X.shape and np.array_equal(z["features"], X), "npz"
            with h5py.File(base + "/map.h5") as f:
                assert f["features"].shape == X.shape and np.array_equal(f["features"][()], X), "h5"
            print("ok")
            """, [tmp.path])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertEqual(check.stdout, "ok\n")
    }

    func testClassesFromKeepsTheTrainingLabels() throws {
        let train = try makeFolder("train", [("ant", [0]), ("bee", [1, 2]), ("cat", [3]), ("dog", [4, 5])])
        _ = try makeFolder("second", [("bee", [2]), ("dog", [4, 5])])
        let first = try runExtract(model + ["--quiet", path("train"), "-o", path("t.npy")])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("t.classes.txt"), encoding: .utf8), "ant\nbee\ncat\ndog\n")

        let r = try runExtract(model + ["--classes-from", path("t.classes.txt"), path("second"), "-o", path("s.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("ant (label 0), cat (label 2)"), r.stderr)
        XCTAssertEqual(try npy("s.labels.npy").values, [1, 3, 3])
        XCTAssertEqual(try String(contentsOfFile: path("s.classes.txt"), encoding: .utf8), "ant\nbee\ncat\ndog\n")
        // Each row is its photo's: the training run's row for the same file, bit for bit.
        let t = try npy("t.npy"), s = try npy("s.npy")
        let trainNames = try String(contentsOfFile: path("t.index.csv"), encoding: .utf8).split(separator: "\n")
            .dropFirst()
            .map { String($0.split(separator: ",")[1]) }
        XCTAssertEqual(trainNames, train.keys.sorted())  // ant/p0, bee/p1, bee/p2, cat/p3, dog/p4, dog/p5
        for (row, trainRow) in [(0, 2), (1, 4), (2, 5)] {
            XCTAssertEqual(
                Array(s.values[row * 1024..<(row + 1) * 1024]),
                Array(t.values[trainRow * 1024..<(trainRow + 1) * 1024]), "row \(row)")
        }
        let rec = try record("s")
        let requested = try XCTUnwrap(rec["classes_requested"] as? [String: Any])
        XCTAssertEqual(requested["option"] as? String, "--classes-from")
        XCTAssertEqual(requested["file"] as? String, path("t.classes.txt"))
        XCTAssertEqual(requested["names"] as? [String], ["ant", "bee", "cat", "dog"])
        let labels = try XCTUnwrap(rec["class_labels"] as? [[String: Any]])
        XCTAssertEqual(labels.map { $0["class"] as? String }, ["ant", "bee", "cat", "dog"])
        XCTAssertEqual(labels.map { $0["label"] as? Int }, [0, 1, 2, 3])
        XCTAssertEqual(labels.map { $0["images"] as? Int }, [0, 1, 0, 2])

        // Without it the same folder is numbered from scratch: 0 and 1.
        let plain = try runExtract(model + ["--quiet", path("second"), "-o", path("p.npy")])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(try npy("p.labels.npy").values, [0, 1, 1])
        XCTAssertNil(try record("p")["classes_requested"] as? [String: Any])

        // --classes selects and orders: dog first, bee second, the rest not read.
        let picked = try runExtract(model + ["--quiet", "--classes", "dog,bee", path("train"), "-o", path("c.npz")])
        XCTAssertEqual(picked.status, 0, picked.stderr)
        // dog's images first, labelled 0, as Keras lists them.
        let z = try runPython(
            """
            import sys, numpy as np
            z = np.load(sys.argv[1])
            print(z["features"].shape, z["labels"].tolist(), z["class_names"].tolist(), z["paths"].tolist())
            """, [path("c.npz")])
        XCTAssertEqual(z.status, 0, z.stderr)
        let dogs = train.keys.filter { $0.hasPrefix("dog/") }.sorted(),
            bees = train.keys.filter { $0.hasPrefix("bee/") }.sorted()
        XCTAssertEqual(
            z.stdout,
            "(4, 1024) [0, 0, 1, 1] ['dog', 'bee'] [\((dogs + bees).map { "'\($0)'" }.joined(separator: ", "))]\n")
        XCTAssertEqual((try record("c")["classes_requested"] as? [String: Any])?["option"] as? String, "--classes")
    }

    func testClassAndOptionMistakesWriteNothing() throws {
        _ = try makeFolder("second", [("bee", [0]), ("eel", [1])])
        let classes = path("t.classes.txt")
        try "ant\nbee\n".write(toFile: classes, atomically: true, encoding: .utf8)
        func nothingWritten(_ what: String) throws {
            let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter {
                $0 != "second" && $0 != "t.classes.txt"
            }
            XCTAssertEqual(left, [], "\(what): nothing is written")
        }
        // Bad input: exit 1, one error line naming the culprit.
        for (args, names) in [
            (["--classes-from", classes], ["'eel'", classes]),
            (["--classes-from", path("nope.txt")], ["nope.txt"]),
            (["--classes", "zz,yy"], ["'zz', 'yy'"]),
        ] {
            let r = try runExtract(model + args + [path("second"), "-o", path("f.npy")])
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertEqual(errorLines(r).count, 1, r.stderr)
            for name in names { XCTAssertTrue(r.stderr.contains(name), "\(args): \(r.stderr)") }
            try nothingWritten("\(args)")
        }
        // Bad command line: exit 64.
        for args in [
            ["--flatten"], ["--pooling", "avg", "--flatten"], ["--classes", "bee", "--classes-from", classes],
            ["--classes", "bee,,ant"], ["--classes", "bee,bee"], ["--path-column", "path"],
        ] {
            let r = try runExtract(model + args + [path("second"), "-o", path("f.npy")])
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty)
            try nothingWritten("\(args)")
        }
        let help = try runExtract(["run", "--help"])
        for option in [
            "--classes <a,b,c>", "--classes-from <file>", "--path-column <name>", "--label-column <name>",
            "--flatten", "(N, H, W, C)", "flow_from_dataframe",
        ] {
            XCTAssertTrue(help.stdout.contains(option), "run --help lacks \(option)")
        }
    }

    func testTableInputInTableOrderWithItsLabels() throws {
        let copied = try makeFolder("set", [("imgs", [0, 1, 2])])
        let names = copied.keys.sorted()  // imgs/p0..p2
        let ext = (names[0] as NSString).pathExtension
        try FileManager.default.copyItem(atPath: path("set/" + names[0]), toPath: path("set/imgs/a, \"b\".\(ext)"))
        let table = """
            file,note,class
            \(names[2]),"a note, with a comma",owl
            "imgs/a, ""b"".\(ext)","two
            lines",cat
            imgs/gone.jpg,missing,eel
            \(names[1]),,owl

            """
        try table.write(toFile: path("set/t.csv"), atomically: true, encoding: .utf8)
        // Run from another folder: paths are relative to the table's.
        let r = try runExtract(model + [path("set/t.csv"), "-o", path("f.npy")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("imgs/gone.jpg"), "the dropped row is reported: \(r.stderr)")
        XCTAssertEqual(try npy("f.labels.npy").values, [1, 0, 1])  // cat 0, owl 1: eel's row was dropped first
        XCTAssertEqual(try String(contentsOfFile: path("f.classes.txt"), encoding: .utf8), "cat\nowl\n")
        let index = try String(contentsOfFile: path("f.index.csv"), encoding: .utf8)
        XCTAssertEqual(
            index,
            "row,path,label,class\n0,\(names[2]),1,owl\n1,\"imgs/a, \"\"b\"\".\(ext)\",0,cat\n2,\(names[1]),1,owl\n")
        // The quoted row is the photo it names: its features equal those of the file it was copied from.
        let f = try npy("f.npy")
        let plain = try runExtract(model + ["--quiet", path("set/" + names[0]), "-o", path("one.npy")])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(Array(f.values[1024..<2048]), try npy("one.npy").values)
        let rec = try record("f")
        let source = try XCTUnwrap(rec["table"] as? [String: Any])
        XCTAssertEqual(source["path_column"] as? String, "file")
        XCTAssertEqual(source["label_column"] as? String, "class")
        XCTAssertEqual((rec["not_read"] as? [[String: String]])?.map { $0["path"] }, ["imgs/gone.jpg"])

        let missing = try runExtract(model + ["--path-column", "path", path("set/t.csv"), "-o", path("g.npy")])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertEqual(errorLines(missing).count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("no column 'path' (its header: 'file', 'note', 'class')"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g.npy")))
    }
}
