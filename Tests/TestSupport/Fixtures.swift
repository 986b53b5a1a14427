import Foundation
import XCTest

/// Where the tests find the package and the fixtures `scripts/test.sh` generates with Keras.
public enum Fixtures {
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let directory = packageRoot.appendingPathComponent(".fixtures/current")

    /// A fixture's absolute path; fails the test (never skips) when fixtures were not generated.
    public static func path(_ relative: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let url = directory.appendingPathComponent(relative)
        if !FileManager.default.fileExists(atPath: url.path) {
            XCTFail(
                "fixture \(relative) missing: run scripts/test.sh, which generates fixtures with Keras", file: file,
                line: line)
        }
        return url.path
    }

    /// `expectations.json` as written by `scripts/make_fixtures.py`.
    public static func expectations() throws -> [String: Expectation] {
        let data = try Data(contentsOf: directory.appendingPathComponent("expectations.json"))
        return try JSONDecoder().decode(ExpectationFile.self, from: data).fixtures
    }

    public struct ExpectationFile: Decodable { public let fixtures: [String: Expectation] }

    public struct Expectation: Decodable {
        public let layout: String
        public let writer: String?
        public let kerasVersion: String?
        public let backend: String?
        public let architecture: String?
        public let nestedIn: String?
        public let layerNamesCount: Int?
        public let weightedLayers: Int?
        public let arrays: Int?
        public let params: Int?
        public let checks: [Check]?
        public let error: String?
        /// Keras 3 files of models that track layers as attributes: "attributes".
        public let tracking: String?
        /// Attribute-tracked files: the group of the backbone (`backbone`, `layers/functional`).
        public let bindingPath: String?

        enum CodingKeys: String, CodingKey {
            case layout, writer, architecture, checks, error, arrays, params, backend, tracking
            case kerasVersion = "keras_version", nestedIn = "nested_in", layerNamesCount = "layer_names_count"
            case weightedLayers = "weighted_layers", bindingPath = "binding_path"
        }
    }

    public struct Check: Decodable {
        public let layerIndex: Int
        public let arrayIndex: Int
        public let kerasLayer: String
        public let shape: [Int]
        public let sum: Double
        public let first: [Double]

        enum CodingKeys: String, CodingKey {
            case shape, sum, first
            case layerIndex = "layer_index", arrayIndex = "array_index", kerasLayer = "keras_layer"
        }
    }
}

/// Runs the built `extract` binary and captures what a user would see.
public struct CommandResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// The binary under test: `$EXTRACT_BINARY` when set (scripts/test.sh sets it to the release
/// build, so the end-to-end runs take seconds, not minutes), else the one SwiftPM built beside
/// the running test bundle (whatever the scratch path).
public let extractBinary: String = {
    if let path = ProcessInfo.processInfo.environment["EXTRACT_BINARY"], !path.isEmpty { return path }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "extract")
    return FileManager.default.isExecutableFile(atPath: beside.path)
        ? beside.path : Fixtures.packageRoot.appendingPathComponent(".build/debug/extract").path
}()

public func runExtract(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    try runProcess(URL(fileURLWithPath: extractBinary), arguments, environment: environment)
}

/// Runs a program to completion and captures what a user would see.
public func runProcess(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:]
) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting: a full pipe would block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: e, as: UTF8.self))
}

/// Runs Python code in the project's reference venv (`.venv`, made by scripts/test.sh): the
/// tests use it as a user's client would, e.g. numpy/h5py/scikit-learn reading our outputs.
/// `environment` adds variables (TF_USE_LEGACY_KERAS=1 makes `keras` tf-keras 2).
public func runPython(
    _ code: String, _ arguments: [String] = [], environment: [String: String] = [:]
) throws -> CommandResult {
    try runProcess(
        Fixtures.packageRoot.appendingPathComponent(".venv/bin/python"), ["-c", code] + arguments,
        environment: ["TF_CPP_MIN_LOG_LEVEL": "3"].merging(environment) { _, new in new })
}
