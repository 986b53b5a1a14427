// One of n slices of a run's image list, for running it on a cluster: `--shard i/n`, or the task
// index a scheduler gives each copy of the same command (Slurm job arrays, Kubernetes Indexed
// Jobs). Shard i takes the contiguous rows ⌊N·i/n⌋ ..< ⌊N·(i+1)/n⌋ of the sorted list, so the
// shards' outputs joined in index order (`ShardMerge`) are the rows one run writes.

import Foundation

public struct Shard: Codable, Equatable, Sendable, CustomStringConvertible {
    /// 0-based, as SLURM_ARRAY_TASK_ID (from 0) and JOB_COMPLETION_INDEX number tasks.
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw ShardError.invalid("\(index)/\(count)", reason: "the index runs from 0 to count - 1")
        }
        self.index = index
        self.count = count
    }

    /// `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ShardError.invalid(text, reason: "write it as INDEX/COUNT, such as 0/4 (indexes from 0)")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard a scheduler gave this process, and which variables said so: a Slurm array
    /// task (SLURM_ARRAY_TASK_ID counted from SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT),
    /// or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, of JOB_COMPLETIONS, which the Job's
    /// manifest sets from its `completions`). nil when neither is set.
    public static func fromEnvironment(_ env: [String: String]) throws -> (shard: Shard, source: String)? {
        if let id = env["SLURM_ARRAY_TASK_ID"], let total = env["SLURM_ARRAY_TASK_COUNT"] {
            guard let i = Int(id), let n = Int(total), let first = Int(env["SLURM_ARRAY_TASK_MIN"] ?? "0") else {
                throw ShardError.invalid("\(id)/\(total)", reason: "SLURM_ARRAY_TASK_ID/COUNT are not numbers")
            }
            return (try Shard(index: i - first, count: n), "SLURM_ARRAY_TASK_ID \(id) of SLURM_ARRAY_TASK_COUNT \(n)")
        }
        if let id = env["JOB_COMPLETION_INDEX"] {
            guard let total = env["JOB_COMPLETIONS"] else {
                throw ShardError.invalid(
                    id,
                    reason: "JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not; set it to the Job's completions")
            }
            guard let i = Int(id), let n = Int(total) else {
                throw ShardError.invalid(
                    "\(id)/\(total)", reason: "JOB_COMPLETION_INDEX/JOB_COMPLETIONS are not numbers")
            }
            return (try Shard(index: i, count: n), "JOB_COMPLETION_INDEX \(i) of JOB_COMPLETIONS \(n)")
        }
        return nil
    }

    /// This shard's rows of a list of `total`.
    public func range(of total: Int) -> Range<Int> { (total * index / count)..<(total * (index + 1) / count) }

    /// Where this shard writes when the run was asked for `path`: `feats.npy` ->
    /// `feats.shard-2-of-4.npy` (every task runs the same command line).
    public func outputPath(_ path: String) -> String {
        let ext = (path as NSString).pathExtension
        return (path as NSString).deletingPathExtension + ".shard-\(index)-of-\(count)" + (ext.isEmpty ? "" : ".\(ext)")
    }
}

public enum ShardError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case invalid(String, reason: String)
    /// Shards that cannot be joined: what is wrong, naming the files.
    case merge(String)

    public var description: String {
        switch self {
        case .invalid(let text, let reason): return "shard \(text): \(reason)"
        case .merge(let what): return "cannot merge: \(what)"
        }
    }

    public var errorDescription: String? { description }
}
