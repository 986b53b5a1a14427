// A run that can be killed and rerun: its work folder beside the output (`.feats.npy.partial/`)
// holds the row spools, every temporary of the final assembly, a lock, and progress.json. The
// record is written last, after the rows it counts are flushed to disk, and replaces the old one
// by rename: rows past it (written after the last checkpoint) are cut off on resume, so a run
// killed anywhere resumes from a state that was whole. The same command again continues; a
// run with other settings or another image list is refused until `--restart`. The folder goes
// when the outputs are in place.

import FeatureFiles
import Foundation
import WeightLoader

public final class RunProgress: @unchecked Sendable {
    /// progress.json.
    public struct State: Codable, Equatable, Sendable {
        public struct Skip: Codable, Equatable, Sendable {
            public let index: Int
            public let reason: String
        }
        public var format = State.currentFormat
        /// sha256 of the run record's settings (model, weights hash, input, layer, pooling,
        /// output, ...) and of the image list (paths and labels, in order).
        public var settings: String
        public var images: String
        public var listed: Int
        /// Images processed from the list's start (written or skipped), rows written of them.
        public var done = 0
        public var rows = 0
        public var skipped: [Skip] = []
        /// Time spent by every attempt so far.
        public var seconds = 0.0

        static let currentFormat = "extract-progress/1"
    }

    public let output: String
    public let folder: String
    private let lockFD: Int32
    private let lock = NSLock()
    private var saved: State
    /// What an earlier run left (nil: this run starts at the first image).
    public let kept: State?

    /// `.<name>.partial` beside `output`.
    public static func folder(for output: String) -> String {
        let dir = (output as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "" : dir + "/") + ".\((output as NSString).lastPathComponent).partial"
    }

    /// Takes the work folder of `output` (made if absent, locked against a second run writing
    /// the same output) and reads what an earlier run of the same settings and images left.
    public init(output: String, settings: String, images: String, listed: Int, restart: Bool) throws {
        self.output = output
        folder = Self.folder(for: output)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), !isDir.boolValue {
            throw RunProgressError.notAFolder(folder)
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw RunProgressError.cannotUse(folder, reason: String(cString: strerror(errno)))
        }
        let fd = open(folder + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunProgressError.cannotUse(folder, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, 31, 0)
            close(fd)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : "?"
            throw RunProgressError.busy(output, pid: pid.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        lockFD = fd
        let fresh = State(settings: settings, images: images, listed: listed)
        if restart { Self.clear(folder) }
        let previous = restart ? nil : Self.read(folder)
        if let previous, previous.done > 0 {
            if previous.settings != settings {
                throw RunProgressError.otherSettings(output, folder: folder, done: previous.done, of: previous.listed)
            }
            if previous.images != images {
                throw RunProgressError.otherImages(
                    output, folder: folder, done: previous.done, then: previous.listed, now: listed)
            }
            kept = previous
            saved = previous
        } else {
            kept = nil
            saved = fresh
        }
    }

    deinit { close(lockFD) }

    static func read(_ folder: String) -> State? {
        guard let data = FileManager.default.contents(atPath: folder + "/progress.json"),
            let state = try? JSONDecoder().decode(State.self, from: data), state.format == State.currentFormat
        else { return nil }
        return state
    }

    /// Everything in the folder but the lock.
    static func clear(_ folder: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name != "lock" {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }

    /// Forgets what was kept (its spool turned out to be gone): the run starts at the first image.
    public func startOver() {
        lock.lock()
        defer { lock.unlock() }
        Self.clear(folder)
        saved = State(settings: saved.settings, images: saved.images, listed: saved.listed)
    }

    /// Records `state` once the rows it counts are on disk (the caller flushed them): written
    /// to a temporary, flushed, renamed over progress.json, and the folder flushed.
    public func save(_ state: State) throws {
        let data: Data
        do { data = try JSONEncoder().encode(state) } catch {
            throw RunProgressError.cannotUse(folder, reason: "\(error)")
        }
        let temporary = folder + "/progress.json.tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure() }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temporary, folder + "/progress.json") == 0 else {
            throw failure()
        }
        let dir = open(folder, O_RDONLY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
        lock.lock()
        saved = state
        lock.unlock()
        Failpoint.hit("checkpoint")
    }

    private func failure() -> Error {
        RunProgressError.cannotUse(folder, reason: String(cString: strerror(errno)))
    }

    public var state: State {
        lock.lock()
        defer { lock.unlock() }
        return saved
    }

    /// The outputs are in place: the folder goes.
    public func finished() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A run that failed or was interrupted: what was saved stays for the next run when it
    /// holds rows, and the one line to say so; else the folder goes. The record on disk
    /// decides, not the one in memory: a signal landing between `save`'s rename and its update
    /// of `saved` found no rows in memory and removed a checkpoint already on disk (a CI run
    /// caught it).
    public func leave() -> String? {
        let onDisk = (try? Data(contentsOf: URL(fileURLWithPath: folder + "/progress.json"))).flatMap {
            try? JSONDecoder().decode(State.self, from: $0)
        }
        let state = onDisk ?? self.state
        guard state.rows > 0 else {
            finished()
            return nil
        }
        return
            "\(state.done) of \(state.listed) images are done and kept in \(folder); the same command continues from there (--restart starts over)"
    }
}

func OutputErrorFromErrno(_ output: String) -> Error {
    RunProgressError.cannotUse(RunProgress.folder(for: output), reason: String(cString: strerror(errno)))
}

public enum RunProgressError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case busy(String, pid: String)
    case notAFolder(String)
    case cannotUse(String, reason: String)
    case otherSettings(String, folder: String, done: Int, of: Int)
    case otherImages(String, folder: String, done: Int, then: Int, now: Int)

    public var description: String {
        switch self {
        case .busy(let output, let pid):
            return "another extract (pid \(pid)) is writing \(output); wait for it to end, or choose another -o"
        case .notAFolder(let path):
            return "\(path) is in the way: the run keeps its progress there; remove it or choose another -o"
        case .cannotUse(let folder, let reason):
            return "cannot keep the run's progress in \(folder): \(reason); free space or choose another -o"
        case .otherSettings(let output, let folder, let done, let of):
            return
                "an unfinished run writing \(output) with other settings (model, weights, input, layer, pooling or output) left \(done) of \(of) images in \(folder); rerun its command to finish it, or add --restart to start over with these settings"
        case .otherImages(let output, let folder, let done, let then, let now):
            return
                "an unfinished run writing \(output) left \(done) of \(then) images in \(folder), and the image list has changed since (\(now) images now, or other files or labels); add --restart to start over, or choose another -o"
        }
    }

    public var errorDescription: String? { description }
}
