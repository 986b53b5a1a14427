import Foundation
import TestSupport
import XCTest

/// Inputs and events that used to hang a run, grow it without bound, leave files behind or
/// make a row of nothing (issue 24's list): each now ends as a skipped image with its reason,
/// or an interrupted run with status 130 and nothing written.
final class HostileInputCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    var weights: String { Fixtures.path("reference/mobilenet_1.0_224.h5") }
    var photo: String { Fixtures.path("images/photos/city/china.jpg") }

    /// A FIFO, a link to /dev/zero and a 3 GiB sparse file among real photos: the run ends, the
    /// photos become rows, the three are skipped with what they are; a 0×0 GIF named on the
    /// command line is skipped as Pillow refuses it.
    func testNonFilesAndEmptyImagesAreSkippedWithTheirReason() throws {
        let folder = tmp.appendingPathComponent("imgs/a")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["1.jpg", "2.jpg"] {
            try FileManager.default.copyItem(atPath: photo, toPath: folder.appendingPathComponent(name).path)
        }
        XCTAssertEqual(mkfifo(folder.appendingPathComponent("fifo.jpg").path, 0o600), 0)
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("zero.jpg").path, withDestinationPath: "/dev/zero")
        let huge = folder.appendingPathComponent("huge.png").path
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        XCTAssertEqual(truncate(huge, off_t(3) << 30), 0)
        var gif = Array("GIF89a".utf8) + [0, 0, 0, 0, 0x80, 0, 0] + [0, 0, 0, 255, 255, 255]
        gif += [0x2C, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [0x02, 0x02, 0x44, 0x01, 0x00] + [0x3B]
        let zero = tmp.appendingPathComponent("zero.gif").path
        XCTAssertTrue(FileManager.default.createFile(atPath: zero, contents: Data(gif)))

        let out = tmp.appendingPathComponent("f.npy").path
        let start = ContinuousClock.now
        let r = try runExtract(["--weights", weights, tmp.appendingPathComponent("imgs").path, "-o", out])
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(60), "nothing was read whole or waited on")
        XCTAssertEqual(r.status, 0, r.stderr)
        for reason in [
            "fifo.jpg: not read: it is a FIFO (named pipe)", "zero.jpg: not read: it is a character device",
            "huge.png: not read: 3221225472 bytes is more than any image file",
        ] {
            XCTAssertTrue(r.stderr.contains(reason), "\(reason)\n\(r.stderr)")
        }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: tmp.appendingPathComponent("f.run.json")))
        let counts = (record as? [String: Any])?["counts"] as? [String: Int]
        XCTAssertEqual(counts?["written"], 2)
        XCTAssertEqual(counts?["skipped"], 3)

        let single = try runExtract(["--weights", weights, zero, photo, "-o", tmp.appendingPathComponent("g.npy").path])
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertTrue(single.stderr.contains("zero.gif: corrupt GIF data: the image is 0×0"), single.stderr)
        XCTAssertTrue(single.stderr.contains("1 × 1024 float32 (1 skipped)"), single.stderr)
    }

    /// A folder where a side file goes (`f.labels.npy/`) is refused before any work, so no
    /// other file of the run (f.run.json, f.npy) appears; it used to fail after all the work
    /// with f.run.json already in place.
    func testSideFileThatIsAFolderIsRefusedBeforeAnyWork() throws {
        for side in ["f.labels.npy", "f.run.json", "f.index.csv"] {
            let dir = tmp.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent(side), withIntermediateDirectories: true)
            let r = try runExtract([
                "--weights", weights, photo, "-o", dir.appendingPathComponent("f.npy").path, "--quiet",
            ])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("\(side), which the run writes beside it, is an existing folder"), r.stderr)
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: dir.path), [side], "nothing else written")
        }
    }

    /// `inspect` on a hostile file: a layer name holding a terminal escape sequence and a
    /// megabyte-long version attribute print as one escaped, bounded line each, not as a
    /// recoloured terminal and a megabyte of stdout.
    func testInspectEscapesAndBoundsWhatTheFileSays() throws {
        let path = tmp.appendingPathComponent("hostile.h5").path
        let made = try runPython(
            """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                name = "dense\\x1b[31mred\\x1b[0m"
                f.attrs["layer_names"] = [name.encode()]
                f.attrs["backend"] = "tensorflow"
                f.attrs["keras_version"] = "3." + "9" * 1_000_000
                g = f.create_group(name)
                g.attrs["weight_names"] = [(name + "/kernel").encode()]
                g.create_dataset(name + "/kernel", data=np.zeros((2, 3), "float32"))
            """, [path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try runExtract(["inspect", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.unicodeScalars.contains("\u{1B}"), "no escape character reaches the terminal")
        XCTAssertTrue(r.stdout.contains("dense\\u{1B}[31mred"), r.stdout.prefix(2000).description)
        XCTAssertLessThan(r.stdout.count, 20_000, "bounded, not the attribute's megabyte")
        XCTAssertTrue(r.stdout.contains("more characters)"), r.stdout.prefix(2000).description)
    }

    /// Weights h5py saved with its own lzf compression are sound; libhdf5 lacks the filter. The
    /// error says so and what to do, instead of calling the file damaged.
    func testLzfCompressedWeightsAreNotCalledDamaged() throws {
        let lzf = tmp.appendingPathComponent("mobilenet_1_0_224_lzf.h5").path
        let made = try runPython(
            """
            import sys, h5py
            with h5py.File(sys.argv[1]) as s, h5py.File(sys.argv[2], "w") as d:
                for k, v in s.attrs.items(): d.attrs[k] = v
                def copy(name, obj):
                    if isinstance(obj, h5py.Group):
                        g = d.require_group(name)
                        for k, v in obj.attrs.items(): g.attrs[k] = v
                    else:
                        d.create_dataset(name, data=obj[()], compression="lzf" if obj.ndim else None)
                s.visititems(copy)
            """, [weights, lzf])
        XCTAssertEqual(made.status, 0, made.stderr)
        let out = tmp.appendingPathComponent("f.npy").path
        let r = try runExtract(["--weights", lzf, "--model", "mobilenet", photo, "-o", out])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("is compressed with the lzf filter"), r.stderr)
        XCTAssertTrue(r.stderr.contains("the file is not damaged"), r.stderr)
        XCTAssertFalse(r.stderr.contains("damaged HDF5"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Ctrl-C, a kill and a closed terminal end a run alike: status 130, one line, and neither
    /// the output nor its temporary is left.
    func testEverySignalOfAnInterruptionLeavesNothing() throws {
        let folder = tmp.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<400 {
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent(String(format: "%03d.jpg", i)).path, withDestinationPath: photo)
        }
        for (name, sig) in [("SIGINT", SIGINT), ("SIGTERM", SIGTERM), ("SIGHUP", SIGHUP)] {
            let dir = tmp.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: extractBinary)
            process.arguments = [
                "--weights", weights, "--threads", "1", folder.path, "-o", dir.appendingPathComponent("f.npy").path,
            ]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Signal once rows are being written (the temporary output exists).
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline,
                (try FileManager.default.contentsOfDirectory(atPath: dir.path)).isEmpty
            {
                usleep(10_000)
            }
            kill(process.processIdentifier, sig)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit, "\(name): handled, not killed by it")
            XCTAssertEqual(process.terminationStatus, 130, "\(name): \(stderr)")
            XCTAssertTrue(stderr.contains("interrupted; nothing was written"), "\(name): \(stderr)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "\(name): nothing left")
        }
    }
}
