import Foundation
import TestSupport
import XCTest

/// Runs that die and are run again (issue 24): killed with SIGKILL at chosen points (a row
/// written after the last checkpoint, right after a checkpoint, between two renames of the
/// final assembly), the same command continues and writes byte for byte what an uninterrupted
/// run writes; other settings are refused until --restart; signals keep the finished images.
final class ResumeCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    var weights: String { Fixtures.path("reference/mobilenet_1.0_224.h5") }

    /// The photographs in two class folders, with two broken files among them (skipped rows
    /// must resume too): 28 images, batches of 4.
    func images() throws -> String {
        let root = tmp.appendingPathComponent("imgs")
        let photos = Fixtures.path("images/photos")
        for (k, name) in try FileManager.default.subpathsOfDirectory(atPath: photos).sorted().enumerated()
        where name.lowercased().hasSuffix(".jpg") || name.hasSuffix(".png") {
            let folder = root.appendingPathComponent(k % 2 == 0 ? "even" : "odd")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent(String(format: "%02d-", k) + (name as NSString).lastPathComponent)
                    .path,
                withDestinationPath: photos + "/" + name)
        }
        for (folder, broken) in [("even", "truncated-header.jpg"), ("odd", "bad-zlib.png")] {
            try FileManager.default.copyItem(
                atPath: Fixtures.path("images/broken/\(broken)"),
                toPath: root.appendingPathComponent("\(folder)/50-\(broken)").path)
        }
        return root.path
    }

    /// Every file a run wrote into `dir`, by name; the run record without what differs between
    /// any two runs (its time, speed and working folder) and the resumed note.
    func outputs(_ dir: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            var data = try Data(contentsOf: dir.appendingPathComponent(name))
            if name.hasSuffix(".run.json") {
                var record = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
                for key in ["created", "seconds", "images_per_second", "working_directory"] { record[key] = nil }
                data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            }
            files[name] = data
        }
        return files
    }

    /// Runs `arguments` in `dir` (relative -o), as a user in that folder would.
    func run(_ arguments: [String], in dir: URL, failpoint: String? = nil) throws -> CommandResult {
        let quoted = ([extractBinary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try runProcess(
            URL(fileURLWithPath: "/bin/bash"), ["-c", "cd '\(dir.path)' && exec \(quoted)"],
            environment: failpoint.map { ["EXTRACT_FAILPOINT": $0] } ?? [:])
    }

    func testKilledAnywhereTheSameCommandFinishesWithTheSameBytes() throws {
        let imgs = try images()
        let killedAt: [(format: String, failpoint: String, resumes: Bool)] = [
            ("npy", "row:3", false),  // before the first checkpoint: nothing kept
            ("npy", "row:11", true),  // rows past the 2nd checkpoint are cut off
            ("npy", "checkpoint:1", true),
            ("npy", "checkpoint:4", true),
            ("npy", "checkpoint:7", true),  // the last batch saved, nothing assembled
            ("npy", "commit:1", true),  // run.json in place, nothing else
            ("npy", "commit:4", true),  // every side file in place, the matrix not
            ("npz", "checkpoint:3", true),
            ("npz", "commit:1", true),  // run.json in place, the archive not
        ]
        for format in ["npy", "npz"] {
            let reference = tmp.appendingPathComponent("reference-\(format)")
            try FileManager.default.createDirectory(at: reference, withIntermediateDirectories: true)
            let args = ["--weights", weights, "--batch-size", "4", "--threads", "2", imgs, "-o", "f.\(format)"]
            let r = try run(args, in: reference)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("26 × 1024 float32 (2 skipped)"), r.stderr)
            let expected = try outputs(reference)

            for c in killedAt where c.format == format {
                let dir = tmp.appendingPathComponent("\(format)-\(c.failpoint)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let killed = try run(args, in: dir, failpoint: c.failpoint)
                XCTAssertEqual(killed.status, SIGKILL, "\(c.failpoint): \(killed.stderr)")
                XCTAssertFalse(
                    FileManager.default.fileExists(atPath: dir.appendingPathComponent("f.\(format)").path),
                    "\(c.failpoint): no output before the run is whole")

                let again = try run(args, in: dir)
                XCTAssertEqual(again.status, 0, "\(c.failpoint): \(again.stderr)")
                XCTAssertEqual(again.stderr.contains("resuming: "), c.resumes, "\(c.failpoint): \(again.stderr)")
                let got = try outputs(dir)
                XCTAssertEqual(got.keys.sorted(), expected.keys.sorted(), "\(c.failpoint): the same files, no more")
                for (name, data) in expected {
                    XCTAssertEqual(got[name], data, "\(c.failpoint): \(name) is byte-identical to one run")
                }
            }
        }
    }

    /// The classifier's decoded top-5 of the rows kept by the killed run are read back from
    /// them: predictions.csv is the one an uninterrupted run writes.
    func testPredictionsOfKeptRowsAreTheSame() throws {
        let args = [
            "--weights", Fixtures.path("reference/mobilenetv2_1.0_top_224.h5"), "--model", "mobilenetv2",
            "--include-top", "--batch-size", "4", "--threads", "2", Fixtures.path("images/photos"), "-o", "p.npy",
        ]
        let reference = tmp.appendingPathComponent("reference")
        let dir = tmp.appendingPathComponent("killed")
        for d in [reference, dir] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let whole = try run(args, in: reference)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertEqual(try run(args, in: dir, failpoint: "checkpoint:3").status, SIGKILL)
        let again = try run(args, in: dir)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("resuming: 12 of 28 images"), again.stderr)
        XCTAssertEqual(again.stdout, whole.stdout, "the printed top-5 of every image, kept ones included")
        XCTAssertEqual(try outputs(dir), try outputs(reference))
    }

    /// A killed run's progress belongs to its settings and image list: another pooling or one
    /// more image is refused (one line, naming --restart), --restart starts over, and a spool
    /// that vanished is noticed and started over.
    func testOtherSettingsAreRefusedUntilRestart() throws {
        let imgs = try images()
        let args = ["--weights", weights, "--batch-size", "4", "--threads", "2", imgs, "-o", "f.npy"]
        let dir: URL = tmp
        XCTAssertEqual(try run(args, in: dir, failpoint: "checkpoint:2").status, SIGKILL)

        let maxPooled = try run(args + ["--pooling", "max"], in: dir)
        XCTAssertEqual(maxPooled.status, 1, maxPooled.stderr)
        XCTAssertEqual(maxPooled.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1)
        XCTAssertTrue(maxPooled.stderr.contains("with other settings"), maxPooled.stderr)
        XCTAssertTrue(maxPooled.stderr.contains("left 8 of 28 images"), maxPooled.stderr)
        XCTAssertTrue(maxPooled.stderr.contains("--restart"), maxPooled.stderr)

        try FileManager.default.copyItem(
            atPath: Fixtures.path("images/photos/city/china.jpg"), toPath: imgs + "/odd/99-extra.jpg")
        let more = try run(args, in: dir)
        XCTAssertEqual(more.status, 1, more.stderr)
        XCTAssertTrue(more.stderr.contains("the image list has changed since (29 images now"), more.stderr)

        let restarted = try run(args + ["--pooling", "max", "--restart"], in: dir)
        XCTAssertEqual(restarted.status, 0, restarted.stderr)
        XCTAssertFalse(restarted.stderr.contains("resuming"), restarted.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".f.npy.partial").path))

        // The rows a progress record vouches for are gone (a cleaned scratch disk): start over.
        XCTAssertEqual(try run(args + ["--restart"], in: dir, failpoint: "checkpoint:2").status, SIGKILL)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(".f.npy.partial/rows.npy"))
        let gone = try run(args, in: dir)
        XCTAssertEqual(gone.status, 0, gone.stderr)
        XCTAssertTrue(gone.stderr.contains("are gone; starting from the first image"), gone.stderr)
        XCTAssertTrue(gone.stderr.contains("27 × 1024 float32 (2 skipped)"), gone.stderr)
    }

    /// Two runs writing one output at once would interleave rows: the second is refused while
    /// the first holds the work folder's lock. A dead run's temporaries (its pid in the name)
    /// are removed by the next run writing the same file.
    func testASecondRunIsRefusedAndDeadRunsTemporariesGo() throws {
        let imgs = try images()
        let folder = tmp.appendingPathComponent(".f.npy.partial")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let fd = open(folder.appendingPathComponent("lock").path, O_RDWR | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        _ = "4242\n".withCString { write(fd, $0, 5) }
        let busy = try run(["--weights", weights, imgs, "-o", "f.npy"], in: tmp)
        close(fd)
        XCTAssertEqual(busy.status, 1, busy.stderr)
        XCTAssertTrue(busy.stderr.contains("another extract (pid 4242) is writing f.npy"), busy.stderr)

        // A temporary whose writer is gone: a process that has exited.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let stale = tmp.appendingPathComponent(".f.run.json.tmp-\(gone.processIdentifier)-12345")
        let live = tmp.appendingPathComponent(".f.run.json.tmp-\(getpid())-12345")
        for f in [stale, live] {
            XCTAssertTrue(FileManager.default.createFile(atPath: f.path, contents: Data("x".utf8)))
        }
        let r = try run(["--weights", weights, imgs, "-o", "f.npy"], in: tmp)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "a dead run's temporary is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "a running process's is not")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "the work folder goes with success")
    }

    /// Ctrl-C, a kill and a closed terminal end a run alike: status 130 and one line saying
    /// how many images are kept; nothing at -o; the same command then finishes the run.
    func testEverySignalKeepsTheFinishedImages() throws {
        let folder = tmp.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let photo = Fixtures.path("images/photos/city/china.jpg")
        for i in 0..<400 {
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent(String(format: "%03d.jpg", i)).path, withDestinationPath: photo)
        }
        for (name, sig) in [("SIGINT", SIGINT), ("SIGTERM", SIGTERM), ("SIGHUP", SIGHUP)] {
            let dir = tmp.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let args = ["--weights", weights, "--threads", "1", "--batch-size", "8", folder.path, "-o", "f.npy"]
            let process = Process()
            process.executableURL = URL(fileURLWithPath: extractBinary)
            process.arguments = args
            process.currentDirectoryURL = dir
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Signal once a checkpoint is on disk.
            let record = dir.appendingPathComponent(".f.npy.partial/progress.json").path
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, !FileManager.default.fileExists(atPath: record) { usleep(10_000) }
            kill(process.processIdentifier, sig)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit, "\(name): handled, not killed by it")
            XCTAssertEqual(process.terminationStatus, 130, "\(name): \(stderr)")
            XCTAssertNotNil(
                stderr.range(of: #"interrupted; \d+ of 400 images are done and kept in "#, options: .regularExpression),
                "\(name): \(stderr)")
            XCTAssertTrue(stderr.contains("the same command continues"), "\(name): \(stderr)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [".f.npy.partial"], name)
            if sig == SIGHUP {
                let again = try run(args, in: dir)
                XCTAssertEqual(again.status, 0, again.stderr)
                XCTAssertTrue(again.stderr.contains("resuming: "), again.stderr)
                XCTAssertTrue(again.stderr.contains("400 × 1024 float32 (0 skipped)"), again.stderr)
            }
        }
    }
}
