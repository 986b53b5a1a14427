import FeatureFiles
import Foundation
import TestSupport
import XCTest

/// `extract fit` and `extract predict` through the built binary, on the feature files of
/// scripts/make_head_fixtures.py, against scikit-learn's numbers for the same settings.
final class FitCommandTests: XCTestCase {
    typealias Case = HeadCase

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func cases() throws -> [Case] { try HeadCase.all() }

    func arguments(_ c: Case) -> [String] { c.fitArguments }

    /// Every setting of the four-class case: fit --json's cross-validated accuracy as
    /// scikit-learn's; predict's scores as predict_proba / decision_function.
    func testFitAndPredictAgreeWithScikitLearn() throws {
        for c in try cases() where c.name.hasPrefix("four/") || c.name.hasPrefix("binary/") {
            let head = tmp.appendingPathComponent("head.json").path
            let fit = try runExtract(["fit", Fixtures.path(c.features), "-o", head, "--json"] + arguments(c))
            XCTAssertEqual(fit.status, 0, "\(c.name): \(fit.stderr)")
            let report = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any], fit.stdout)
            let accuracy = try XCTUnwrap(report["cv_accuracy"] as? Double)
            let theirs = c.cv_accuracy.reduce(0, +) / Double(c.cv_accuracy.count)
            XCTAssertEqual(accuracy, theirs, accuracy: 0.01, c.name)
            XCTAssertEqual(report["classes"] as? [String], c.classes)
            let confusion = try XCTUnwrap(report["confusion_matrix"] as? [[Int]])
            XCTAssertEqual(confusion.count, c.classes.count)
            XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), report["rows"] as? Int)

            let preds = tmp.appendingPathComponent("preds.csv").path
            let predict = try runExtract(
                ["predict", "--head", head, Fixtures.path(c.features), "-o", preds, "--top", String(c.classes.count)])
            XCTAssertEqual(predict.status, 0, "\(c.name): \(predict.stderr)")
            let lines = try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n")
            let expected = try Npy.read(
                Data(contentsOf: URL(fileURLWithPath: Fixtures.path(c.scores))), name: c.scores
            ).values.map(Double.init)
            let k = c.classes.count
            var worst = 0.0
            for (i, line) in lines.dropFirst().enumerated() {
                let f = line.split(separator: ",").map(String.init)
                for r in 0..<k {
                    let cls = try XCTUnwrap(c.classes.firstIndex(of: f[2 + 2 * r]))
                    let ours = try XCTUnwrap(Double(f[3 + 2 * r]))
                    let ref =
                        c.classifier == "svm" && k == 2 ? (cls == 1 ? 1.0 : -1.0) * expected[i] : expected[i * k + cls]
                    worst = max(worst, abs(ours - ref))
                }
            }
            XCTAssertEqual(lines.count, 1 + (try FeatureFile.read(Fixtures.path(c.features))).count, c.name)
            XCTAssertLessThan(worst, c.classifier == "logreg" ? 1e-3 : 5e-2, "\(c.name): worst \(worst)")
        }
    }

    struct Workflow: Decodable {
        let weights: String
        let layer: String
        let train: String
        let test: String
        let classes: [String]
        let test_files: [String]
        let logreg_cv_accuracy: [Double]
        let svm_cv_accuracy: [Double]
        let logreg_test_probabilities: [[Double]]
    }

    /// The seed workflow through the built binary: class folders -> extract (an intermediate
    /// layer, pooled) -> fit -> classify on held-out images with no other option. Cross-validated
    /// accuracy as scikit-learn's on Keras' features of the same images (logreg and svm), and
    /// the held-out probabilities as LogisticRegression's.
    func testSeedWorkflowFromFoldersToLabels() throws {
        let w = try JSONDecoder().decode(
            Workflow.self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("heads/workflow/workflow.json"))))
        let feats = tmp.appendingPathComponent("feats.npy").path
        let extract = try runExtract(
            [
                "--weights", Fixtures.path(w.weights), "--layer", w.layer, "--pooling", "avg", Fixtures.path(w.train),
                "-o", feats, "--quiet",
            ])
        XCTAssertEqual(extract.status, 0, extract.stderr)

        for (kind, theirs) in [("logreg", w.logreg_cv_accuracy), ("svm", w.svm_cv_accuracy)] {
            let head = tmp.appendingPathComponent("\(kind).json").path
            let fit = try runExtract(["fit", feats, "-o", head, "--classifier", kind, "--json"])
            XCTAssertEqual(fit.status, 0, fit.stderr)
            let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(fit.stdout.utf8)) as? [String: Any])
            let ours = try XCTUnwrap(report["cv_accuracy"] as? Double)
            XCTAssertEqual(ours, theirs.reduce(0, +) / Double(theirs.count), accuracy: 0.01, kind)
            XCTAssertEqual(report["classes"] as? [String], w.classes)
        }

        let preds = tmp.appendingPathComponent("preds.csv").path
        let head = tmp.appendingPathComponent("logreg.json").path
        let classify = try runExtract(["classify", "--head", head, Fixtures.path(w.test), "-o", preds, "--top", "3"])
        // The training run named its weights relative to where it started; classify runs from
        // elsewhere and still finds them.
        let fixtures = Fixtures.directory.path
        let relative = tmp.appendingPathComponent("relative.npy").path
        let shell = try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "cd '\(fixtures)' && '\(extractBinary)' --weights '\(w.weights)' --layer \(w.layer) --pooling avg '\(w.train)' -o '\(relative)' --quiet && '\(extractBinary)' fit '\(relative)' -o '\(relative).head.json' --cv 0 && cd / && '\(extractBinary)' classify --head '\(relative).head.json' '\(Fixtures.path(w.test))' -o '\(relative).csv' --quiet",
            ])
        XCTAssertEqual(shell.status, 0, shell.stderr)
        XCTAssertEqual(classify.status, 0, classify.stderr)
        XCTAssertTrue(classify.stderr.contains("accuracy"), classify.stderr)
        let lines = try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "row,path,class,probability,class_2,probability_2,class_3,probability_3")
        XCTAssertEqual(lines.count - 1, w.test_files.count)
        var worst = 0.0
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",").map(String.init)
            XCTAssertEqual(f[1], w.test_files[i])
            for r in 0..<3 {
                let c = try XCTUnwrap(w.classes.firstIndex(of: f[2 + 2 * r]))
                worst = max(worst, abs(try XCTUnwrap(Double(f[3 + 2 * r])) - w.logreg_test_probabilities[i][c]))
            }
        }
        print(String(format: "heads workflow: held-out probabilities, max |ours - scikit-learn| %.2e", worst))
        XCTAssertLessThan(worst, 1e-3)
    }

    /// The head exported with --export-keras opens with keras.models.load_model (.keras in
    /// Keras 3; .h5 in Keras 3 and in tf-keras 2) and predicts what `extract predict` writes:
    /// probabilities of logreg (2 and 4 classes, standardized), decision values of the SVM.
    func testExportedHeadLoadsInKerasAndAgrees() throws {
        let load = """
            import os, sys, numpy as np
            if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
                import tf_keras as keras
            else:
                import keras
            x = np.load(sys.argv[1])
            for path in sys.argv[2:]:
                np.save(path + ".predict.npy", keras.models.load_model(path, compile=False).predict(x, verbose=0))
            """
        for name in ["four/1", "binary/1", "four/3", "binary/2"] {
            let c = try XCTUnwrap(cases().first { $0.name == name })
            let head = tmp.appendingPathComponent("h.json").path
            var exports: [String] = []
            for ext in ["keras", "h5"] {
                let out = tmp.appendingPathComponent("head-\(ext).\(ext)").path
                let r = try runExtract(
                    ["fit", Fixtures.path(c.features), "-o", head, "--cv", "0", "--export-keras", out] + arguments(c))
                XCTAssertEqual(r.status, 0, r.stderr)
                exports.append(out)
            }
            let preds = tmp.appendingPathComponent("p.csv").path
            XCTAssertEqual(
                try runExtract(
                    [
                        "predict", "--head", head, Fixtures.path(c.features), "-o", preds, "--top",
                        String(c.classes.count),
                    ]
                ).status, 0)
            // Our scores per row in class order, from the CSV.
            let k = c.classes.count
            var ours: [[Double]] = []
            for line in try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",").map(String.init)
                var row = [Double](repeating: 0, count: k)
                for r in 0..<k { row[c.classes.firstIndex(of: f[2 + 2 * r])!] = Double(f[3 + 2 * r])! }
                ours.append(row)
            }
            for (legacy, files) in [(false, exports), (true, [exports[1]])] {
                for f in files { try? FileManager.default.removeItem(atPath: f + ".predict.npy") }
                let py = try runPython(
                    load, [Fixtures.path(c.features)] + files, environment: legacy ? ["TF_USE_LEGACY_KERAS": "1"] : [:])
                XCTAssertEqual(py.status, 0, py.stderr)
                for f in files {
                    let keras = try Npy.read(Data(contentsOf: URL(fileURLWithPath: f + ".predict.npy")), name: f)
                    XCTAssertEqual(keras.shape, [ours.count, k], f)
                    let worst = zip(keras.values, ours.flatMap { $0 }).map { abs(Double($0) - $1) }.max() ?? 1
                    print(
                        String(
                            format: "heads export | %@ | %@ | %@ | max |keras - ours| %.2e", name,
                            legacy ? "tf-keras" : "keras 3", (f as NSString).pathExtension, worst))
                    XCTAssertLessThan(worst, 1e-4, "\(name) \(f) in \(legacy ? "tf-keras" : "Keras 3")")
                }
            }
        }
    }

    /// neighbors --query reads the image as the features' run record says: the same neighbours
    /// as its features extracted by hand and given with --query-feats. duplicates finds a copied
    /// photograph and nothing else at 0.9999.
    func testNeighborsAndDuplicatesThroughTheBinary() throws {
        let w = try JSONDecoder().decode(
            Workflow.self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("heads/workflow/workflow.json"))))
        let common = ["--weights", Fixtures.path(w.weights), "--layer", w.layer, "--pooling", "avg", "--quiet"]
        // The training folder plus a copy of one photograph under another name.
        let folder = tmp.appendingPathComponent("imgs")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.path(w.train)), to: folder)
        let original = folder.appendingPathComponent("stripes/stripes_03.jpg")
        try FileManager.default.copyItem(at: original, to: folder.appendingPathComponent("stripes/copy_of_03.jpg"))
        let feats = tmp.appendingPathComponent("feats.npy").path
        XCTAssertEqual(try runExtract(common + [folder.path, "-o", feats]).status, 0)

        let query = Fixtures.path(w.test) + "/speckle/speckle_01.jpg"
        let a = tmp.appendingPathComponent("a.csv").path
        let r = try runExtract(["neighbors", feats, "--query", query, "-k", "4", "-o", a, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let qfeats = tmp.appendingPathComponent("q.npy").path
        XCTAssertEqual(try runExtract(common + [query, "-o", qfeats]).status, 0)
        let b = tmp.appendingPathComponent("b.csv").path
        XCTAssertEqual(
            try runExtract(["neighbors", feats, "--query-feats", qfeats, "-k", "4", "-o", b, "--quiet"]).status, 0)
        func tail(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst().map {
                $0.split(separator: ",").dropFirst().joined(separator: ",")
            }
        }
        XCTAssertEqual(try tail(a).count, 4)
        XCTAssertEqual(try tail(a), try tail(b))
        // faiss' inverted-file index scanning every list finds the same rows; its float32
        // distances may differ in the last digits. --nlist without --index ivf is refused.
        let c = tmp.appendingPathComponent("c.csv").path
        let ivf = try runExtract([
            "neighbors", feats, "--query-feats", qfeats, "-k", "4", "-o", c, "--index", "ivf", "--nprobe", "1000",
        ])
        XCTAssertEqual(ivf.status, 0, ivf.stderr)
        XCTAssertTrue(ivf.stderr.contains("faiss IVF"), ivf.stderr)
        func rows(_ path: String) throws -> [String] {
            try tail(path).map { $0.split(separator: ",").dropLast().joined(separator: ",") }
        }
        XCTAssertEqual(try rows(c), try rows(b))
        let refused = try runExtract(["neighbors", feats, "--nlist", "4", "-o", c])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--index ivf"), refused.stderr)

        let groups = tmp.appendingPathComponent("groups.csv").path
        let d = try runExtract(["duplicates", feats, "--threshold", "0.9999", "-o", groups])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(
            try String(contentsOfFile: groups, encoding: .utf8),
            "group,row,path\n1,24,stripes/copy_of_03.jpg\n1,28,stripes/stripes_03.jpg\n")
    }

    /// The text report names the classes and prints the confusion matrix; --grid-C picks a C.
    func testTextReportAndGrid() throws {
        let c = try XCTUnwrap(cases().first { $0.name == "four/0" })
        let head = tmp.appendingPathComponent("h.json").path
        let r = try runExtract(["fit", Fixtures.path(c.features), "-o", head, "--grid-C", "0.01,1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("accuracy "), r.stdout)
        XCTAssertTrue(r.stdout.contains("confusion matrix"), r.stdout)
        for name in c.classes { XCTAssertTrue(r.stdout.contains(name), r.stdout) }
        XCTAssertTrue(r.stdout.contains("C by cross-validated accuracy: 0.01: "), r.stdout)
    }

    /// No labels, a head of another width: one error line, status 1, nothing written.
    func testBadInputs() throws {
        let c = try XCTUnwrap(cases().first { $0.name == "four/0" })
        // Features without labels beside them.
        let bare = tmp.appendingPathComponent("bare.npy")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.path(c.features)), to: bare)
        let head = tmp.appendingPathComponent("h.json").path
        let r = try runExtract(["fit", bare.path, "-o", head])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains("no labels"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: head))

        let other = try XCTUnwrap(cases().first { $0.name == "binary/0" })
        XCTAssertEqual(try runExtract(["fit", Fixtures.path(other.features), "-o", head, "--cv", "0"]).status, 0)
        let preds = tmp.appendingPathComponent("p.csv").path
        let p = try runExtract(["predict", "--head", head, Fixtures.path(c.features), "-o", preds])
        XCTAssertEqual(p.status, 1, p.stderr)
        XCTAssertTrue(p.stderr.contains("features per row"), p.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: preds))
    }
}
