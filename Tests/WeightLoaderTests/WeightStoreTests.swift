import Crypto
import Foundation
import XCTest

@testable import WeightLoader

/// The Keras cache and downloader against `scripts/fixture_server.py` on 127.0.0.1: every
/// failure must leave the models directory without partial files.
final class WeightStoreTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    var temp: URL!
    var served: URL!
    var store: WeightStore!
    var server: FixtureServer!
    /// 384 KiB of random bytes, served as `weights.bin`.
    var payload = Data()
    var payloadMD5 = ""

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("weightstore-\(UUID().uuidString)")
        served = temp.appendingPathComponent("served")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        payload = Data((0..<(384 * 1024)).map { _ in UInt8.random(in: 0...255) })
        payloadMD5 = Insecure.MD5.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        try payload.write(to: served.appendingPathComponent("weights.bin"))
        // KERAS_HOME itself does not exist yet: downloading must create it and models/.
        store = WeightStore(kerasHome: temp.appendingPathComponent("keras"), manifest: WeightsManifest(entries: []))
        server = try FixtureServer(directory: served)
    }

    override func tearDownWithError() throws {
        server?.stop()
        if let temp { try? FileManager.default.removeItem(at: temp) }
    }

    func entry(
        _ id: String = "fixture", file: String = "fixture_notop.h5", path: String = "ok/weights.bin",
        hash: String?, algorithm: String? = nil
    ) -> WeightsEntry {
        WeightsEntry(
            id: id, model: "Fixture", architecture: "Fixture", file: file,
            url: "http://127.0.0.1:\(server.port)/\(path)", hash: hash,
            hashAlgorithm: algorithm ?? hash.map { $0.count == 64 ? "sha256" : "md5" },
            defaultInput: 224, preprocess: "none", weightedLayers: 0, params: 0)
    }

    func modelsListing() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory.path)) ?? []).sorted()
    }

    func putInCache(_ data: Data, as file: String) throws {
        try FileManager.default.createDirectory(at: store.modelsDirectory, withIntermediateDirectories: true)
        try data.write(to: store.modelsDirectory.appendingPathComponent(file))
    }

    /// Runs `body` and checks it throws exactly `expected`.
    func assertThrows<T>(
        _ expected: WeightLoaderError, file: StaticString = #filePath, line: UInt = #line,
        _ body: () async throws -> T
    ) async {
        do {
            _ = try await body()
            XCTFail("expected \(expected), got success", file: file, line: line)
        } catch let error as WeightLoaderError {
            XCTAssertEqual(error, expected, file: file, line: line)
        } catch {
            XCTFail("expected \(expected), got \(error)", file: file, line: line)
        }
    }

    // MARK: hashing

    func testFileHashOfABC() throws {
        let abc = temp.appendingPathComponent("abc")
        try Data("abc".utf8).write(to: abc)
        XCTAssertEqual(try FileHash.hex(of: abc, algorithm: "md5"), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(
            try FileHash.hex(of: abc.path, algorithm: "sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try FileHash.hex(of: abc, algorithm: "sha1")) {
            XCTAssertEqual($0 as? WeightLoaderError, .unsupportedHashAlgorithm(algorithm: "sha1"))
        }
        let missing = temp.appendingPathComponent("missing").path
        XCTAssertThrowsError(try FileHash.hex(of: missing, algorithm: "md5")) {
            XCTAssertEqual($0 as? WeightLoaderError, .fileNotFound(path: missing))
        }
    }

    func testFileHashAcrossChunkBoundaries() throws {
        // 2.5 MiB: two full 1 MiB reads and a partial one must hash like the whole buffer.
        let data = Data((0..<(5 * FileHash.chunkSize / 2)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let url = temp.appendingPathComponent("big")
        try data.write(to: url)
        XCTAssertEqual(
            try FileHash.hex(of: url, algorithm: "md5"),
            Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(
            try FileHash.hex(of: url, algorithm: "sha256"),
            SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined())
    }

    func testKerasAlgorithmRule() {
        XCTAssertEqual(FileHash.algorithm(forHash: String(repeating: "a", count: 64)), "sha256")
        XCTAssertEqual(FileHash.algorithm(forHash: String(repeating: "a", count: 32)), "md5")
    }

    // MARK: cache

    func testKerasHomeFromEnvironment() {
        let saved = ProcessInfo.processInfo.environment["KERAS_HOME"]
        defer { if let saved { setenv("KERAS_HOME", saved, 1) } else { unsetenv("KERAS_HOME") } }
        setenv("KERAS_HOME", "/srv/keras", 1)
        XCTAssertEqual(WeightStore().modelsDirectory.path, "/srv/keras/models")
        unsetenv("KERAS_HOME")
        XCTAssertEqual(WeightStore().modelsDirectory.path, NSHomeDirectory() + "/.keras/models")
    }

    func testCachedHitWithRightHash() async throws {
        let e = entry(hash: payloadMD5)
        XCTAssertNil(try store.cached(e))
        try putInCache(payload, as: e.file)
        let found = try XCTUnwrap(try store.cached(e))
        XCTAssertEqual(found, CachedWeights(url: store.path(for: e), entry: e, requested: e, digest: payloadMD5))
        // download disallowed: the cache alone must do.
        let located = try await store.locate(e, download: false)
        XCTAssertEqual(located, found)
    }

    /// A damaged cached file is reported as damaged, with its path, before any download is
    /// tried (the old behaviour re-downloaded it and blamed the network when that failed).
    func testDamagedCachedFileIsReportedBeforeAnyDownload() async throws {
        let e = entry(hash: payloadMD5)
        let stale = Data("stale".utf8)
        try putInCache(stale, as: e.file)
        let path = store.path(for: e).path
        let staleMD5 = Insecure.MD5.hash(data: stale).map { String(format: "%02x", $0) }.joined()
        let mismatch = WeightLoaderError.hashMismatch(
            path: path, algorithm: "md5", expected: payloadMD5, actual: staleMD5)
        XCTAssertThrowsError(try store.cached(e)) { XCTAssertEqual($0 as? WeightLoaderError, mismatch) }
        await assertThrows(mismatch) { try await store.locate(e, download: false) }
        await assertThrows(mismatch) { try await store.locate(e, download: true) }
        XCTAssertEqual(try Data(contentsOf: store.path(for: e)), stale, "left as it was, for the user to look at")
        XCTAssertTrue(mismatch.description.contains("is damaged"), mismatch.description)
        XCTAssertTrue(mismatch.description.contains("delete it"), mismatch.description)

        try FileManager.default.removeItem(at: store.path(for: e))
        let located = try await store.locate(e, download: true)
        XCTAssertEqual(located, CachedWeights(url: store.path(for: e), entry: e, requested: e, digest: payloadMD5))
        XCTAssertEqual(try Data(contentsOf: located.url), payload)
        XCTAssertEqual(modelsListing(), [e.file])
    }

    func testSharedFileNameReturnsTheReleaseThatMatches() async throws {
        // The resnet50 trap: current and fchollet v0.2 notop files share one cache name.
        let file = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        let oldBytes = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) })
        try oldBytes.write(to: served.appendingPathComponent("old.bin"))
        let oldMD5 = Insecure.MD5.hash(data: oldBytes).map { String(format: "%02x", $0) }.joined()
        let current = entry("resnet50_notop", file: file, hash: payloadMD5)
        let old = entry("resnet50_v0.2_notop", file: file, path: "ok/old.bin", hash: oldMD5)
        store = WeightStore(kerasHome: store.kerasHome, manifest: WeightsManifest(entries: [current, old]))
        try putInCache(oldBytes, as: file)

        let found = try XCTUnwrap(try store.cached(current))
        XCTAssertEqual(found.entry, old)
        XCTAssertEqual(found.requested, current)
        XCTAssertEqual(found.digest, oldMD5)
        XCTAssertFalse(found.isRequestedRelease)
        XCTAssertEqual(try store.cached(old)?.isRequestedRelease, true)
        let path = store.path(for: current).path
        await assertThrows(
            .otherRelease(path: path, requested: "resnet50_notop", found: "resnet50_v0.2_notop", url: current.url)
        ) {
            try await store.locate(current, download: false)
        }
        // Allowed to download, it replaces the other release as Keras' get_file() would.
        let located = try await store.locate(current, download: true)
        XCTAssertEqual(located.entry, current)
        XCTAssertEqual(try Data(contentsOf: located.url), payload)
    }

    func testRealManifestHoldsBothResNet50Releases() {
        let shared = WeightsManifest.shared.entries(forFile: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
        XCTAssertEqual(
            Set(shared.compactMap(\.hash)), ["4d473c1dd8becc155b73f8504c6f6626", "a268eb855778b3df3c7506639542a6af"])
    }

    func testNoHashEntryIsAcceptedAsIs() async throws {
        let e = entry(file: "mobilenet_1_0_224_tf_no_top.h5", hash: nil)
        let anything = Data("not even HDF5".utf8)
        try putInCache(anything, as: e.file)
        let found = try await store.locate(e, download: false)
        XCTAssertEqual(found, CachedWeights(url: store.path(for: e), entry: e, requested: e, digest: nil))
        try FileManager.default.removeItem(at: found.url)
        let downloaded = try await store.locate(e, download: true)
        XCTAssertNil(downloaded.digest)
        XCTAssertEqual(try Data(contentsOf: downloaded.url), payload)
    }

    func testSha256Entry() async throws {
        let sha = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        let e = entry(file: "convnext_fixture_notop.h5", hash: sha)
        let downloaded = try await store.download(e)
        XCTAssertEqual(downloaded.digest, sha)
        XCTAssertEqual(try store.cached(e)?.digest, sha)
    }

    func testLocateWithoutDownloadOnMissingFile() async throws {
        let e = entry(hash: payloadMD5)
        let expected = WeightLoaderError.notInCache(
            file: e.file, directory: store.modelsDirectory.path, kerasHome: store.kerasHomeVariable, url: e.url)
        await assertThrows(expected) { try await store.locate(e, download: false) }
        let home = store.kerasHomeVariable.map { "KERAS_HOME=\($0)" } ?? "KERAS_HOME unset"
        XCTAssertEqual(
            expected.description,
            "fixture_notop.h5 is not in \(store.modelsDirectory.path) (\(home)); download \(e.url) there or pass --weights PATH"
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.modelsDirectory.path), "nothing created")
    }

    // MARK: download

    func testDownloadStreamsWithProgress() async throws {
        let e = entry(path: "slow/weights.bin", hash: payloadMD5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.kerasHome.path))
        let calls = Recorder()
        let result = try await store.download(e) { calls.append($0, $1) }
        XCTAssertEqual(result, CachedWeights(url: store.path(for: e), entry: e, requested: e, digest: payloadMD5))
        XCTAssertEqual(try Data(contentsOf: result.url), payload)
        XCTAssertEqual(modelsListing(), [e.file])

        let seen = calls.values
        let total = Int64(payload.count)
        XCTAssertGreaterThanOrEqual(seen.count, 3, "the slow route takes ~0.6 s: expected several calls, got \(seen)")
        XCTAssertEqual(seen.first?.0, 0)
        XCTAssertEqual(seen.last?.0, total)
        XCTAssertTrue(seen.allSatisfy { $0.1 == total }, "every call carries Content-Length: \(seen)")
        XCTAssertEqual(seen.map(\.0), seen.map(\.0).sorted(), "counts increase: \(seen)")
        XCTAssertEqual(Set(seen.map(\.0)).count, seen.count, "counts strictly increase: \(seen)")
    }

    func testDownloadFollowsRedirects() async throws {
        let e = entry(path: "redirect/weights.bin", hash: payloadMD5)
        let result = try await store.download(e)
        XCTAssertEqual(try Data(contentsOf: result.url), payload)
        XCTAssertEqual(modelsListing(), [e.file])
    }

    func testWrongHashDownloadLeavesNothing() async throws {
        let wrong = String(repeating: "0", count: 32)
        let e = entry(hash: wrong)
        let expected = WeightLoaderError.downloadHashMismatch(
            url: e.url, path: store.path(for: e).path, algorithm: "md5", expected: wrong, actual: payloadMD5)
        await assertThrows(expected) { try await store.download(e) }
        XCTAssertTrue(expected.description.contains(wrong) && expected.description.contains(payloadMD5))
        XCTAssertTrue(expected.description.contains(store.path(for: e).path))
        XCTAssertEqual(modelsListing(), [], "no file and no .part leftovers")
    }

    func testWrongHashDownloadKeepsPreviousFile() async throws {
        // A stale file may stay; what must never appear is a partial or unverified one.
        let e = entry(hash: String(repeating: "0", count: 32))
        try putInCache(Data("previous".utf8), as: e.file)
        do { _ = try await store.locate(e, download: true); XCTFail("expected a hash mismatch") } catch {}
        XCTAssertEqual(modelsListing(), [e.file])
        XCTAssertEqual(try Data(contentsOf: store.path(for: e)), Data("previous".utf8))
    }

    func testCutOffDownloadLeavesNothing() async throws {
        let e = entry(path: "cut/weights.bin", hash: payloadMD5)
        await assertThrows(
            .downloadTruncated(url: e.url, received: Int64(payload.count / 2), expected: Int64(payload.count))
        ) { try await store.download(e) }
        XCTAssertEqual(modelsListing(), [])
    }

    func testNotFoundStatus() async throws {
        let e = entry(path: "ok/absent.bin", hash: payloadMD5)
        await assertThrows(.downloadStatus(url: e.url, status: 404)) { try await store.download(e) }
        XCTAssertEqual(modelsListing(), [])
    }

    func testConnectionRefused() async throws {
        // A port that just had a listener and now has none.
        let gone = try FixtureServer(directory: served)
        let port = gone.port
        gone.stop()
        let e = WeightsEntry(
            id: "fixture", model: "Fixture", architecture: "Fixture", file: "fixture_notop.h5",
            url: "http://127.0.0.1:\(port)/ok/weights.bin", hash: payloadMD5, hashAlgorithm: "md5",
            defaultInput: 224, preprocess: "none", weightedLayers: 0, params: 0)
        await assertThrows(
            .downloadFailed(url: e.url, reason: "cannot connect to the server (connection refused or unreachable)")
        ) { try await store.download(e) }
        XCTAssertEqual(modelsListing(), [])
    }

    func testCancelledDownloadLeavesNothing() async throws {
        let e = entry(path: "slow/weights.bin", hash: payloadMD5)
        let started = Recorder()
        let task = Task { [store] in try await store!.download(e) { started.append($0, $1) } }
        while started.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected cancellation")
        } catch {
            XCTAssertTrue(error is CancellationError, "got \(error)")
        }
        XCTAssertEqual(modelsListing(), [])
    }
}

/// Collects progress calls from the download's delegate queue.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(Int64, Int64?)] = []
    func append(_ count: Int64, _ total: Int64?) { lock.withLock { calls.append((count, total)) } }
    var values: [(Int64, Int64?)] { lock.withLock { calls } }
}

/// `scripts/fixture_server.py` in a child process. It exits by itself when our end of its stdin
/// closes, so even a crashed test run leaves no server behind.
final class FixtureServer {
    let process = Process()
    let stdin = Pipe()
    let port: Int

    init(directory: URL) throws {
        let script = WeightStoreTests.packageRoot.appendingPathComponent("scripts/fixture_server.py")
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, directory.path]
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // EOF: the server died before printing its port
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            process.terminate()
            throw NSError(
                domain: "FixtureServer", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "fixture_server.py printed '\(text)'"])
        }
        self.port = port
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
