// Every output is written beside its destination under a hidden temporary name and renamed
// over it only when complete and flushed, so an interrupted or failed run leaves either the old
// file or nothing, never half a matrix.

import Foundation

public final class AtomicFile {
    public let destination: String
    public let temporary: String
    private var handle: FileHandle?

    /// Creates `.<name>.tmp-<pid>-<random>` in the destination's folder, or in `folder` (a
    /// run's work folder, on the same file system), after removing any such temporary of the
    /// same destination left by a process that no longer runs (SIGKILL skips every cleanup).
    public init(_ destination: String, in folder: String? = nil) throws {
        self.destination = destination
        temporary = Self.temporaryName(destination, in: folder)
        Self.removeStale(destination, in: folder)
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw OutputError.cannotCreate(destination, reason: Self.errnoText())
        }
        handle = FileHandle(forWritingAtPath: temporary)
        if handle == nil { throw OutputError.cannotCreate(destination, reason: Self.errnoText()) }
    }

    /// An atomic file whose content is produced elsewhere (by a library writing to `temporary`).
    public init(reserving destination: String, in folder: String? = nil) throws {
        self.destination = destination
        temporary = Self.temporaryName(destination, in: folder)
        Self.removeStale(destination, in: folder)
        let dir = (temporary as NSString).deletingLastPathComponent
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw OutputError.cannotCreate(destination, reason: "the folder is not writable or does not exist")
        }
    }

    /// A temporary at a fixed path (a resumable run's spool): created empty, or reopened with
    /// its first `keeping` bytes (what a progress record vouches for) and written from there.
    /// Fails with `missingSpool` when the file is gone or shorter than that.
    public init(_ destination: String, temporary: String, keeping: UInt64?) throws {
        self.destination = destination
        self.temporary = temporary
        if let keeping {
            var info = stat()
            guard stat(temporary, &info) == 0, UInt64(info.st_size) >= keeping else {
                throw OutputError.missingSpool(temporary)
            }
            guard truncate(temporary, off_t(keeping)) == 0, let h = FileHandle(forWritingAtPath: temporary) else {
                throw OutputError.cannotCreate(destination, reason: Self.errnoText())
            }
            handle = h
            do { try h.seekToEnd() } catch { throw OutputError.writeFailed(destination, reason: Self.describe(error)) }
        } else {
            guard FileManager.default.createFile(atPath: temporary, contents: nil),
                let h = FileHandle(forWritingAtPath: temporary)
            else {
                throw OutputError.cannotCreate(destination, reason: Self.errnoText())
            }
            handle = h
        }
    }

    static func temporaryName(_ destination: String, in folder: String?) -> String {
        let url = URL(fileURLWithPath: destination)
        let dir = folder ?? url.deletingLastPathComponent().path
        return dir + "/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Temporaries of `destination` whose writer is gone: the pid in the name no longer runs.
    static func removeStale(_ destination: String, in folder: String?) { removeStale([destination], in: folder) }

    /// The same for several destinations, each folder listed once.
    static func removeStale(_ destinations: [String], in folder: String?) {
        let byFolder = Dictionary(grouping: destinations.map { URL(fileURLWithPath: $0) }) {
            folder ?? $0.deletingLastPathComponent().path
        }
        for (dir, urls) in byFolder {
            let prefixes = urls.map { ".\($0.lastPathComponent).tmp-" }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names {
                guard let prefix = prefixes.first(where: { name.hasPrefix($0) }) else { continue }
                let rest = name.dropFirst(prefix.count).split(separator: "-")
                guard rest.count == 2, let pid = pid_t(rest[0]), pid != getpid() else { continue }
                if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + name) }
            }
        }
    }

    /// Flushes what was written to disk, keeping the file open (a checkpoint).
    public func synchronize() throws {
        do { try handle?.synchronize() } catch {
            throw OutputError.writeFailed(destination, reason: Self.describe(error))
        }
    }

    public func write(_ data: Data) throws {
        guard let handle else { return }
        do { try handle.write(contentsOf: data) } catch {
            throw OutputError.writeFailed(destination, reason: Self.describe(error))
        }
    }

    public func seek(to offset: UInt64) throws {
        do { try handle?.seek(toOffset: offset) } catch {
            throw OutputError.writeFailed(destination, reason: Self.describe(error))
        }
    }

    /// Flushes to disk and renames over the destination.
    public func commit() throws {
        do { try close() } catch {
            discard()
            throw error
        }
        if rename(temporary, destination) != 0 {
            let reason = Self.errnoText()
            discard()
            throw OutputError.writeFailed(destination, reason: reason)
        }
    }

    /// Closes the file without renaming it: it stays at `temporary` (a sealed spool).
    public func close() throws {
        if let handle {
            do {
                try handle.synchronize()
                try handle.close()
            } catch {
                throw OutputError.writeFailed(destination, reason: Self.describe(error))
            }
            self.handle = nil
        }
    }

    /// Removes the temporary file (a failed or interrupted run).
    public func discard() {
        try? handle?.close()
        handle = nil
        unlink(temporary)
    }

    deinit { if handle != nil { discard() } }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}

public enum OutputError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case cannotCreate(String, reason: String)
    case writeFailed(String, reason: String)
    case unknownFormat(String)
    /// A model with several outputs, written to a format that holds one array.
    case severalOutputs(String, outputs: [String])
    /// A resumed run's spool is gone or shorter than its progress record says.
    case missingSpool(String)

    public var description: String {
        switch self {
        case .cannotCreate(let p, let reason):
            return "cannot write \(p): \(reason); choose another -o path"
        case .writeFailed(let p, let reason):
            return
                "writing \(p) failed: \(reason); nothing was left at \(p): free space or choose another -o path and rerun"
        case .unknownFormat(let p):
            return "\(p): unknown output format; end -o with .npy, .npz or .h5"
        case .missingSpool(let p):
            return "\(p) is missing or shorter than its progress record says"
        case .severalOutputs(let p, let outputs):
            return
                "\(p): the model has \(outputs.count) outputs (\(outputs.joined(separator: ", "))) and only an .npz holds several arrays; end -o with .npz, or take one output with --layer NAME"
        }
    }

    public var errorDescription: String? { description }
}
