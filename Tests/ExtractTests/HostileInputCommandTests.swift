import Foundation
import TestSupport
import XCTest

/// Inputs and events that used to hang a run, grow it without bound, leave files behind or
/// make a row of nothing (issue 24's list): each now ends as a skipped image with its reason
/// or a refusal before any work. Signals: `ResumeCommandTests`.
final class HostileInputCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    var weights: String { Fixtures.path("reference/mobilenet_1.0_224.h5") }

    /// A copy of `weights` at `file` in which Python `edit` (given f, layer, name, path: the
    /// first weighted layer's first array; `sys.argv[3:]` are `arguments`) changes that array.
    func editFirstArray(of file: String, _ edit: String, _ arguments: [String] = []) throws -> CommandResult {
        let indented = edit.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return try runPython(
            """
            import shutil, sys, h5py
            shutil.copy(sys.argv[1], sys.argv[2])
            text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
            with h5py.File(sys.argv[2], "r+") as f:
                layer = next(text(l) for l in f.attrs["layer_names"] if len(f[text(l)].attrs["weight_names"]))
                name = text(f[layer].attrs["weight_names"][0])
                path = layer + "/" + name
            \(indented)
            """, [weights, file] + arguments)
    }
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

    /// An array that is a link leading elsewhere is named as such with its target, instead of
    /// "missing": an external link (never followed: Keras writes none, and it would make the
    /// file open any path, a FIFO included), a soft link to nothing, and a circular one.
    func testLinksAreNamedWithTheirTarget() throws {
        let cases: [(kind: String, expected: String)] = [
            ("external", "is an external link to /no/such/other.h5:/x, which is not followed"),
            ("fifo", "is an external link to \(tmp.path)/pipe.h5:/x, which is not followed"),
            ("dangling", "is a soft link to /nowhere, which leads nowhere (a broken or circular link)"),
            ("cycle", "is a soft link to /loop_a, which leads nowhere"),
        ]
        XCTAssertEqual(mkfifo(tmp.appendingPathComponent("pipe.h5").path, 0o600), 0)
        for c in cases {
            let file = tmp.appendingPathComponent("mobilenet_1_0_224_\(c.kind).h5").path
            let made = try editFirstArray(
                of: file,
                """
                del f[path]
                kind = sys.argv[3]
                if kind == "external": f[path] = h5py.ExternalLink("/no/such/other.h5", "/x")
                elif kind == "fifo": f[path] = h5py.ExternalLink(sys.argv[4] + "/pipe.h5", "/x")
                elif kind == "dangling": f[path] = h5py.SoftLink("/nowhere")
                else:
                    f["loop_a"] = h5py.SoftLink("/loop_b")
                    f["loop_b"] = h5py.SoftLink("/loop_a")
                    f[path] = h5py.SoftLink("/loop_a")
                """, [c.kind, tmp.path])
            XCTAssertEqual(made.status, 0, made.stderr)
            let start = ContinuousClock.now
            let r = try runExtract(["--weights", file, photo, "-o", tmp.appendingPathComponent("f.npy").path])
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(30), "\(c.kind): nothing waited on")
            XCTAssertEqual(r.status, 1, "\(c.kind): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(c.kind): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.expected), "\(c.kind): \(r.stderr)")
        }
    }

    /// Decode-ahead is bounded by bytes, not by a count of images: four 64-megapixel JPEGs
    /// (384 MB of pixels each while decoded) at --threads 4 stay within the budget (they used
    /// to take one image's worth per thread), and the rows are those of --threads 1.
    func testDecodeMemoryDoesNotGrowWithThreads() throws {
        let folder = tmp.appendingPathComponent("big")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let made = try runPython(
            """
            import sys, numpy as np
            from PIL import Image
            y, x = np.mgrid[0:8000, 0:8000]
            rgb = np.stack([(x // 31) % 256, (y // 17) % 256, ((x + y) // 23) % 256], -1).astype(np.uint8)
            Image.fromarray(rgb).save(sys.argv[1] + "/0.jpg", quality=80)
            """, [folder.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        for i in 1..<4 {
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent("\(i).jpg").path, withDestinationPath: folder.path + "/0.jpg")
        }
        var peaks: [Int: Int] = [:]
        for threads in [1, 4] {
            let out = tmp.appendingPathComponent("t\(threads).npy").path
            // The peak resident memory of the extract process alone (ru_maxrss of a fresh
            // parent's only child), in KiB.
            let r = try runPython(
                """
                import resource, subprocess, sys
                done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
                print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
                sys.stderr.write(done.stderr)
                """,
                [extractBinary, "--weights", weights, "--threads", "\(threads)", folder.path, "-o", out])
            let fields = r.stdout.split(separator: " ").compactMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            XCTAssertEqual(fields.first, 0, r.stderr)
            peaks[threads] = fields.count == 2 ? fields[1] / 1024 : 0
        }
        print("peak memory, four 64-megapixel JPEGs: --threads 1 \(peaks[1] ?? 0) MB, --threads 4 \(peaks[4] ?? 0) MB")
        // At most two of these fit the 1 GiB budget at once, whatever --threads; on a machine
        // with four cores or more they used to take four images' worth.
        XCTAssertLessThan(peaks[4] ?? .max, (peaks[1] ?? 0) + 450, "two images' pixels at most, not four")
        XCTAssertLessThan(peaks[4] ?? .max, 1300)
        XCTAssertEqual(
            FileManager.default.contents(atPath: tmp.appendingPathComponent("t1.npy").path),
            FileManager.default.contents(atPath: tmp.appendingPathComponent("t4.npy").path))
    }

    /// A disk that fills up, for real (a 64 KB tmpfs: the rows do not fit; 200 KB: the rows fit,
    /// the packed file does not): each format says "No space left on device" about the user's
    /// file, never an internal spool or "HDF5 cannot create the file", and nothing appears at -o.
    func testAFullDiskIsCalledAFullDisk() throws {
        for (size, format) in [("64k", "npy"), ("64k", "h5"), ("200k", "npz"), ("200k", "h5")] {
            let small = tmp.appendingPathComponent("small-\(size)-\(format)")
            try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
            let mounted = try runProcess(
                URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", small.path])
            guard mounted.status == 0 else { throw XCTSkip("cannot mount a small tmpfs here: \(mounted.stderr)") }
            defer { _ = try? runProcess(URL(fileURLWithPath: "/bin/umount"), [small.path]) }
            let out = small.appendingPathComponent("f.\(format)").path
            let r = try runExtract(["--weights", weights, "--quiet", Fixtures.path("images/photos"), "-o", out])
            let what = "\(size) \(format): \(r.stderr)"
            XCTAssertEqual(r.status, 1, what)
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, what)
            XCTAssertTrue(r.stderr.contains(out) && r.stderr.contains("No space left on device"), what)
            XCTAssertFalse(r.stderr.contains("rows.npy") || r.stderr.contains("features-rows"), what)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), what)
            // What may stay is the resumable folder (when a batch was saved), for after space is freed.
            let left = try FileManager.default.contentsOfDirectory(atPath: small.path)
            XCTAssertTrue(left.allSatisfy { $0 == ".f.\(format).partial" }, "\(what) \(left)")
        }
    }

    /// A dataset that declares more than the file stores for it (chunks missing: they would
    /// read as zeros) is refused before a buffer is made.
    func testDeclaredSizesAreCheckedBeforeAnyRead() throws {
        let file = tmp.appendingPathComponent("mobilenet_1_0_224_unwritten.h5").path
        let made = try editFirstArray(
            of: file,
            """
            shape = f[layer][name].shape
            first = f[layer][name][0:1]
            del f[layer][name]
            d = f[layer].create_dataset(name, shape=shape, dtype="f4", chunks=(1,) + shape[1:])
            d[0:1] = first
            """)
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try runExtract(["--weights", file, photo, "-o", tmp.appendingPathComponent("f.npy").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("declares 864 values (3456 bytes) where the file stores 1152 bytes"), r.stderr)
    }

    /// Files on which libhdf5 itself crashes (a segfault in its global-heap code) or loops
    /// forever, found by fuzzing: the structure is read in a child process first, so each ends
    /// in one line naming what libhdf5 did, for a run and for `inspect`.
    func testLibhdf5CrashesAndHangsAreContained() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Data")
        let cases = [
            // "(signal 11, Segmentation fault)"; an AddressSanitizer build exits 1 instead.
            ("libhdf5-segfault.h5", "libhdf5 crashed ("),
            ("libhdf5-endless-loop.h5", "libhdf5 did not finish in 5 s reading this file's structure"),
        ]
        for (name, expected) in cases {
            let file = data.appendingPathComponent(name).path
            for command in [
                ["--weights", file, photo, "-o", tmp.appendingPathComponent("f.npy").path], ["inspect", file],
            ] {
                let r = try runExtract(command, environment: ["EXTRACT_PROBE_SECONDS": "5"])
                let what = "\(name) \(command[0]): \(r.stderr)"
                XCTAssertEqual(r.status, 1, what)
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, what)
                XCTAssertTrue(r.stderr.contains(expected), what)
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "nothing written")
    }

    /// A Keras 3 file whose group links to itself (as a fuzzed file did) made the tree walk
    /// recurse until the stack overflowed; it is now a `damaged` line.
    func testAGroupLinkedIntoItselfIsDamagedNotAStackOverflow() throws {
        let file = tmp.appendingPathComponent("loop.weights.h5").path
        let made = try runPython(
            """
            import shutil, sys, h5py
            shutil.copy(sys.argv[1], sys.argv[2])
            with h5py.File(sys.argv[2], "r+") as f:
                f["layers"]["again"] = f["layers"]
            """, [Fixtures.path("attr/subclassed.weights.h5"), file])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try runExtract(["inspect", file])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("groups nest deeper or more often than in any Keras file"), r.stderr)
    }
}
