import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A published weight file found on disk, and which release it turned out to be.
public struct CachedWeights: Sendable, Equatable {
    public let url: URL
    /// The release the file's hash matches; differs from `requested` when the cache holds
    /// another release under the same name (the fchollet v0.2 ResNet50 notop file).
    public let entry: WeightsEntry
    public let requested: WeightsEntry
    /// Hex digest of the file; nil for entries published without a hash (MobileNet v1/v2).
    public let digest: String?

    public var isRequestedRelease: Bool { entry == requested }
}

/// The Keras weight cache, `$KERAS_HOME/models/` (default `~/.keras/models/`), used the way
/// `keras.utils.get_file()` uses it: a file whose hash does not match is downloaded again,
/// and a file published without a hash is taken as is.
public struct WeightStore: Sendable {
    public let kerasHome: URL
    public let modelsDirectory: URL
    public let manifest: WeightsManifest
    /// `$KERAS_HOME` as found at init, for error messages that tell where we looked and why.
    let kerasHomeVariable: String?

    public init(kerasHome: URL? = nil, manifest: WeightsManifest = .shared) {
        let variable = ProcessInfo.processInfo.environment["KERAS_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        let home =
            kerasHome
            ?? variable.map { URL(fileURLWithPath: NSString(string: $0).expandingTildeInPath) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".keras")
        self.kerasHome = home
        self.modelsDirectory = home.appendingPathComponent("models")
        self.manifest = manifest
        self.kerasHomeVariable = variable
    }

    public func path(for entry: WeightsEntry) -> URL { modelsDirectory.appendingPathComponent(entry.file) }

    /// The cached file for `entry`, nil when absent. A file that matches another manifest entry
    /// of the same name comes back as that entry; one that matches none throws `hashMismatch`
    /// (stale: `locate` downloads over it).
    public func cached(_ entry: WeightsEntry) throws -> CachedWeights? {
        let url = path(for: entry)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let expected = entry.hash?.lowercased() else {
            return CachedWeights(url: url, entry: entry, requested: entry, digest: nil)
        }
        let algorithm = FileHash.algorithm(forHash: expected, declared: entry.hashAlgorithm)
        let actual = try FileHash.hex(of: url, algorithm: algorithm)
        if actual == expected { return CachedWeights(url: url, entry: entry, requested: entry, digest: actual) }

        var digests = [algorithm: actual]
        for other in manifest.entries(forFile: entry.file) where other != entry {
            guard let hash = other.hash?.lowercased() else { continue }
            let otherAlgorithm = FileHash.algorithm(forHash: hash, declared: other.hashAlgorithm)
            let digest = try digests[otherAlgorithm] ?? FileHash.hex(of: url, algorithm: otherAlgorithm)
            digests[otherAlgorithm] = digest
            if digest == hash { return CachedWeights(url: url, entry: other, requested: entry, digest: digest) }
        }
        throw WeightLoaderError.hashMismatch(path: url.path, algorithm: algorithm, expected: expected, actual: actual)
    }

    /// The cached file when it is the requested release; otherwise, when `allowed`, a fresh
    /// download (replacing another release of the same name, as Keras does). A damaged file
    /// (`hashMismatch`) is an error either way. Without `allowed`: `notInCache` or `otherRelease`.
    public func locate(
        _ entry: WeightsEntry, download allowed: Bool, progress: (@Sendable (Int64, Int64?) -> Void)? = nil
    ) async throws -> CachedWeights {
        // A cached file whose hash is wrong is reported as the damaged file it is, before any
        // download: replacing it silently would hide a disk or copy problem, and a failed
        // download would then be blamed on the network.
        let found = try cached(entry)
        if let found, found.isRequestedRelease { return found }
        guard allowed else {
            if let found {
                throw WeightLoaderError.otherRelease(
                    path: found.url.path, requested: entry.id, found: found.entry.id, url: entry.url)
            }
            throw WeightLoaderError.notInCache(
                file: entry.file, directory: modelsDirectory.path, kerasHome: kerasHomeVariable, url: entry.url)
        }
        return try await download(entry, progress: progress)
    }

    /// Downloads `entry.url` to `.<file>.part-<random>` beside its final place, checks the hash,
    /// then renames it over the destination. Any failure removes the partial file, so the
    /// destination only ever holds a complete, verified file (or the stale one it held before).
    /// `progress` gets (bytes received, total when known), at most ~10 times a second plus a
    /// final call.
    public func download(
        _ entry: WeightsEntry, progress: (@Sendable (Int64, Int64?) -> Void)? = nil
    ) async throws -> CachedWeights {
        guard let remote = URL(string: entry.url), remote.scheme == "http" || remote.scheme == "https" else {
            throw WeightLoaderError.downloadFailed(url: entry.url, reason: "not an http(s) URL")
        }
        let expected = entry.hash?.lowercased()
        let digest = try expected.map {
            try StreamingDigest(algorithm: FileHash.algorithm(forHash: $0, declared: entry.hashAlgorithm))
        }
        try Task.checkCancellation()

        do {
            try FileManager.default.createDirectory(at: modelsDirectory, withIntermediateDirectories: true)
        } catch {
            throw WeightLoaderError.writeFailed(path: modelsDirectory.path, reason: reason(error))
        }
        let destination = path(for: entry)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let partial = modelsDirectory.appendingPathComponent(".\(entry.file).part-\(suffix)")
        // O_EXCL: never write into a file some other process is filling.
        let fd = open(partial.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw WeightLoaderError.writeFailed(path: partial.path, reason: String(cString: strerror(errno)))
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        var closed = false
        var kept = false
        defer {
            if !closed { try? handle.close() }
            if !kept { unlink(partial.path) }
        }

        let transfer = Transfer(
            url: entry.url, handle: handle, partialPath: partial.path, digest: digest, progress: progress)
        try await transfer.run(remote)
        let finalDigest = transfer.finalDigest

        do {
            try handle.synchronize()  // a crash right after the rename must not leave a short file in place
            try handle.close()
            closed = true
        } catch {
            throw WeightLoaderError.writeFailed(path: partial.path, reason: reason(error))
        }
        let actual = finalDigest?.finalize()
        if let expected, let actual, actual != expected {
            throw WeightLoaderError.downloadHashMismatch(
                url: entry.url, path: destination.path, algorithm: finalDigest?.algorithm ?? "md5",
                expected: expected, actual: actual)
        }
        guard rename(partial.path, destination.path) == 0 else {
            throw WeightLoaderError.writeFailed(path: destination.path, reason: String(cString: strerror(errno)))
        }
        kept = true
        return CachedWeights(url: destination, entry: entry, requested: entry, digest: actual)
    }
}

// MARK: - transfer

/// One URLSession data task streamed into a file handle. URLSession on Linux
/// (swift-corelibs-foundation, libcurl underneath) delivers `didReceive data` chunks to a
/// delegate; its async `data(for:)` would hold the whole body in memory and `bytes(for:)` is
/// not available there. Delegate calls run on one serial queue; the lock guards the state
/// shared with the awaiting task and the cancellation handler.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: String
    private let handle: FileHandle
    private let partialPath: String
    private let progress: (@Sendable (Int64, Int64?) -> Void)?
    private let lock = NSLock()
    private var digest: StreamingDigest?
    private var continuation: CheckedContinuation<Int64, Error>?
    private var status: Int?
    private var expected: Int64?
    private var received: Int64 = 0
    private var reported: Int64 = -1
    private var lastReport = ContinuousClock.now
    private var failure: WeightLoaderError?

    init(
        url: String, handle: FileHandle, partialPath: String, digest: StreamingDigest?,
        progress: (@Sendable (Int64, Int64?) -> Void)?
    ) {
        self.url = url
        self.handle = handle
        self.partialPath = partialPath
        self.digest = digest
        self.progress = progress
    }

    var finalDigest: StreamingDigest? { lock.withLock { digest } }

    @discardableResult
    func run(_ remote: URL) async throws -> Int64 {
        let configuration = URLSessionConfiguration.ephemeral
        // Hundreds of MB must not land in Foundation's URL cache on top of ~/.keras.
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.timeoutIntervalForRequest = 60  // idle time between bytes, not total time
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }  // the session retains its delegate until then
        let task = session.dataTask(with: remote)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int64, Error>) in
                    lock.withLock { self.continuation = continuation }
                    task.resume()
                }
            } onCancel: {
                task.cancel()
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        let length = response.expectedContentLength
        lock.withLock {
            status = code
            expected = length >= 0 ? length : nil
        }
        guard code == 200 else { return completionHandler(.cancel) }
        progress?(0, length >= 0 ? length : nil)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        var report: (Int64, Int64?)?
        lock.withLock {
            guard failure == nil else { return }
            do { try handle.write(contentsOf: data) } catch {
                failure = .writeFailed(path: partialPath, reason: reason(error))
                dataTask.cancel()
                return
            }
            digest?.update(data)
            received += Int64(data.count)
            let now = ContinuousClock.now
            if now - lastReport >= .milliseconds(100) {
                lastReport = now
                reported = received
                report = (received, expected)
            }
        }
        if let report { progress?(report.0, report.1) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let (continuation, outcome, finalReport) = lock.withLock {
            () -> (CheckedContinuation<Int64, Error>?, Result<Int64, Error>, (Int64, Int64?)?) in
            let continuation = self.continuation
            self.continuation = nil
            let outcome: Result<Int64, Error>
            if let failure {
                outcome = .failure(failure)
            } else if let status, status != 200 {
                outcome = .failure(WeightLoaderError.downloadStatus(url: url, status: status))
            } else if let expected, received < expected {
                // A cut-off body: curl reports "partial file" or a lost connection, or nothing.
                outcome = .failure(
                    WeightLoaderError.downloadTruncated(url: url, received: received, expected: expected))
            } else if let error {
                outcome = .failure(WeightLoaderError.downloadFailed(url: url, reason: networkReason(error)))
            } else {
                outcome = .success(received)
            }
            let finalReport: (Int64, Int64?)? = (error == nil && reported != received) ? (received, expected) : nil
            if finalReport != nil { reported = received }
            return (continuation, outcome, finalReport)
        }
        if case .success = outcome, let finalReport { progress?(finalReport.0, finalReport.1) }
        continuation?.resume(with: outcome)
    }
}

/// Short words for the network failures a user can act on; Foundation's text on Linux is
/// "The operation could not be completed. (NSURLErrorDomain error -1004.)".
private func networkReason(_ error: Error) -> String {
    guard let error = error as? URLError else { return (error as NSError).localizedDescription }
    switch error.code {
    case .cannotConnectToHost: return "cannot connect to the server (connection refused or unreachable)"
    case .cannotFindHost, .dnsLookupFailed: return "host not found"
    case .timedOut: return "timed out"
    case .notConnectedToInternet: return "no network connection"
    case .networkConnectionLost: return "connection lost"
    case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
        .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
        return "TLS connection failed"
    case .httpTooManyRedirects, .redirectToNonExistentLocation: return "bad redirect"
    case .cancelled: return "cancelled"
    default: return "URL error \(error.code.rawValue)"
    }
}
