import Foundation
import TestSupport
import XCTest

/// Sharded runs as a scheduler starts them: N processes of the same command line, each told
/// its task index by the environment (a Slurm job array, a Kubernetes Indexed Job), run at the
/// same time; `extract merge` joins them into exactly the files one run writes.
final class ShardCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    var command: [String] {
        [
            "--weights", Fixtures.path("full/mobilenet_v2_0.35_96_k3_full.h5"), "--pooling", "avg",
            Fixtures.path("heads/workflow/train"), "--quiet", "--threads", "1",
        ]
    }

    /// Runs `n` copies at once, copy k with `environment(k)`, writing `-o folder/feats.npy`.
    func runShards(_ n: Int, into folder: URL, environment: @escaping @Sendable (Int) -> [String: String]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let arguments = command + ["-o", folder.appendingPathComponent("feats.npy").path]
        let results = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: n) { k in
            out[k] = (try? runExtract(arguments, environment: environment(k)))?.status ?? -1
        }
        XCTAssertEqual(Array(results), [Int32](repeating: 0, count: n))
    }

    func testShardsFromSlurmAndKubernetesMergeToOneRun() throws {
        let one = tmp.appendingPathComponent("one")
        try FileManager.default.createDirectory(at: one, withIntermediateDirectories: true)
        XCTAssertEqual(try runExtract(command + ["-o", one.appendingPathComponent("feats.npy").path]).status, 0)

        // Slurm arrays may number tasks from 1 (--array=1-4); Kubernetes from 0.
        let schedulers: [(String, Int, [String: String])] = [
            ("slurm", 4, ["SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"]),
            ("kubernetes", 3, ["JOB_COMPLETIONS": "3"]),
        ]
        for (name, n, fixed) in schedulers {
            let environment: @Sendable (Int) -> [String: String] = { k in
                fixed.merging(name == "slurm" ? ["SLURM_ARRAY_TASK_ID": "\(k + 1)"] : ["JOB_COMPLETION_INDEX": "\(k)"])
                {
                    a, _ in a
                }
            }
            let parts = tmp.appendingPathComponent(name)
            try runShards(n, into: parts, environment: environment)
            let shards = (0..<n).reversed().map { parts.appendingPathComponent("feats.shard-\($0)-of-\(n).npy").path }
            let merged = tmp.appendingPathComponent("\(name)-merged")
            try FileManager.default.createDirectory(at: merged, withIntermediateDirectories: true)
            let r = try runExtract(["merge"] + shards + ["-o", merged.appendingPathComponent("feats.npy").path])
            XCTAssertEqual(r.status, 0, r.stderr)
            for file in ["feats.npy", "feats.labels.npy", "feats.classes.txt", "feats.index.csv"] {
                XCTAssertEqual(
                    try Data(contentsOf: merged.appendingPathComponent(file)),
                    try Data(contentsOf: one.appendingPathComponent(file)), "\(name): \(file)")
            }
        }
    }

    /// Missing, doubled and mismatched shards: one error line naming them, nothing written.
    func testMergeRefusesIncompleteOrForeignShards() throws {
        let parts = tmp.appendingPathComponent("parts")
        try runShards(3, into: parts) { ["SLURM_ARRAY_TASK_ID": "\($0)", "SLURM_ARRAY_TASK_COUNT": "3"] }
        func shard(_ k: Int) -> String { parts.appendingPathComponent("feats.shard-\(k)-of-3.npy").path }
        // Shard 1 again, made with max pooling.
        let other = tmp.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        XCTAssertEqual(
            try runExtract(
                command.map { $0 == "avg" ? "max" : $0 } + [
                    "--shard", "1/3", "-o", other.appendingPathComponent("feats.npy").path,
                ]
            ).status, 0)
        let out = tmp.appendingPathComponent("merged.npy").path
        for (given, expected) in [
            ([shard(0), shard(2)], "shard 1/3 missing"),
            ([shard(0), shard(1), shard(1), shard(2)], "shard 1/3 is given twice"),
            (
                [shard(0), other.appendingPathComponent("feats.shard-1-of-3.npy").path, shard(2)],
                "pooling max (not avg)"
            ),
        ] {
            let r = try runExtract(["merge"] + given + ["-o", out])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains(expected), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }
}
