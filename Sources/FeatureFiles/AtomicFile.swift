// Every output is written beside its destination under a hidden temporary name and renamed
// over it only when complete and flushed, so an interrupted or failed run leaves either the old
// file or nothing, never half a matrix.

import Foundation

public final class AtomicFile {
    public let destination: String
    public let temporary: String
    private var handle: FileHandle?

    /// Creates `.<name>.tmp-<random>` in the destination's folder.
    public init(_ destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let dir = url.deletingLastPathComponent().path
        temporary = dir + "/.\(url.lastPathComponent).tmp-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw OutputError.cannotCreate(destination, reason: Self.errnoText())
        }
        handle = FileHandle(forWritingAtPath: temporary)
        if handle == nil { throw OutputError.cannotCreate(destination, reason: Self.errnoText()) }
    }

    /// An atomic file whose content is produced elsewhere (by a library writing to `temporary`).
    public init(reserving destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        temporary =
            url.deletingLastPathComponent().path + "/.\(url.lastPathComponent).tmp-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.isWritableFile(atPath: url.deletingLastPathComponent().path) else {
            throw OutputError.cannotCreate(destination, reason: "the folder is not writable or does not exist")
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
        if let handle {
            do {
                try handle.synchronize()
                try handle.close()
            } catch {
                discard()
                throw OutputError.writeFailed(destination, reason: Self.describe(error))
            }
            self.handle = nil
        }
        if rename(temporary, destination) != 0 {
            let reason = Self.errnoText()
            discard()
            throw OutputError.writeFailed(destination, reason: reason)
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

    public var description: String {
        switch self {
        case .cannotCreate(let p, let reason):
            return "cannot write \(p): \(reason); choose another -o path"
        case .writeFailed(let p, let reason):
            return
                "writing \(p) failed: \(reason); nothing was left behind, free space or choose another -o path and rerun"
        case .unknownFormat(let p):
            return "\(p): unknown output format; end -o with .npy, .npz or .h5"
        case .severalOutputs(let p, let outputs):
            return
                "\(p): the model has \(outputs.count) outputs (\(outputs.joined(separator: ", "))) and only an .npz holds several arrays; end -o with .npz, or take one output with --layer NAME"
        }
    }

    public var errorDescription: String? { description }
}
