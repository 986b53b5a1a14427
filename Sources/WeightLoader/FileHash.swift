import Crypto
import Foundation

/// md5 or sha256 of a file, the digests Keras' `get_file()` checks. Published weight files run
/// to hundreds of MB, so the file is read in 1 MiB chunks and never held whole.
public enum FileHash {
    static let chunkSize = 1 << 20

    public static func hex(of path: String, algorithm: String) throws -> String {
        Tally.shared.count(\.hashes)
        var digest = try StreamingDigest(algorithm: algorithm)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if !FileManager.default.fileExists(atPath: path) { throw WeightLoaderError.fileNotFound(path: path) }
            throw WeightLoaderError.unreadable(path: path)
        }
        defer { try? handle.close() }
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: chunkSize) ?? Data() } catch {
                throw WeightLoaderError.readFailed(path: path, reason: reason(error))
            }
            if chunk.isEmpty { break }
            digest.update(chunk)
        }
        return digest.finalize()
    }

    /// sha256 of bytes in memory (a run's settings and image list, to know a resumed run's).
    public static func sha256(_ data: Data) -> String { hexString(SHA256.hash(data: data)) }

    public static func hex(of url: URL, algorithm: String) throws -> String {
        try hex(of: url.path, algorithm: algorithm)
    }

    /// The algorithm Keras uses for a published hash: sha256 when the hex is 64 long, else md5
    /// (`keras.utils.file_utils.resolve_hasher`); an explicit manifest value wins.
    public static func algorithm(forHash hash: String, declared: String? = nil) -> String {
        declared?.lowercased() ?? (hash.count == 64 ? "sha256" : "md5")
    }
}

/// Incremental md5/sha256, shared by `FileHash` and the downloader (which hashes as bytes arrive).
struct StreamingDigest {
    private enum State {
        case md5(Insecure.MD5)
        case sha256(SHA256)
    }
    private var state: State
    let algorithm: String

    init(algorithm: String) throws {
        switch algorithm.lowercased() {
        case "md5": state = .md5(Insecure.MD5())
        case "sha256": state = .sha256(SHA256())
        default: throw WeightLoaderError.unsupportedHashAlgorithm(algorithm: algorithm)
        }
        self.algorithm = algorithm.lowercased()
    }

    mutating func update(_ data: Data) {
        switch state {
        case .md5(var h):
            h.update(data: data)
            state = .md5(h)
        case .sha256(var h):
            h.update(data: data)
            state = .sha256(h)
        }
    }

    func finalize() -> String {
        switch state {
        case .md5(let h): return hexString(h.finalize())
        case .sha256(let h): return hexString(h.finalize())
        }
    }
}

private func hexString<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The OS's words for an I/O error ("No space left on device"), not Foundation's wrapper text.
func reason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return ns.localizedDescription
}
