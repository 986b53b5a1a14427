// libhdf5 itself can crash or loop forever on a malformed file: fuzzing the weight reader
// (scripts/fuzz.sh) found a segfault, an out-of-bounds memcpy and an endless loop inside
// libhdf5 1.10's global-heap code, reached by reading the variable-length string attributes
// every Keras file has (layer_names, weight_names). A front end that can run itself again
// (the CLI) sets `probe` to open each weight file's structure in a child process first: a
// crash or a hang there becomes one error line, and the run goes on in-process only with a
// file libhdf5 has read once without harm. Opening is attributes, groups and dataset headers,
// milliseconds even for VGG's 500 MB; the arrays are read in-process afterwards, checked
// against their declared sizes (`HDF5Dataset.checkDeclaredSize`).

import Foundation

public enum WeightFileGuard {
    /// Called with the path before `KerasWeightFile.open` reads it; nil (a library user, the
    /// tests in-process, the child itself) reads directly.
    nonisolated(unsafe) public static var probe: ((String) throws -> Void)?

    /// How long the child may take before it is taken for hung.
    public static var timeoutSeconds: Double {
        Double(ProcessInfo.processInfo.environment["EXTRACT_PROBE_SECONDS"] ?? "") ?? 60
    }

    /// The probe's status when the open threw a typed error (a damaged file, a wrong layout):
    /// the same open in-process then says what is wrong. Any other failure is a crash
    /// (AddressSanitizer builds turn a segfault into exit status 1).
    public static let typedErrorStatus: Int32 = 3

    /// Runs `executable arguments` (a probe that opens `path`) and turns its death by a signal,
    /// an unexpected status, or its outliving `timeoutSeconds`, into
    /// `WeightLoaderError.readerFailed`.
    public static func runChild(_ executable: String, _ arguments: [String], path: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do { try process.run() } catch { return }  // cannot isolate: read in-process as before
        let limit = timeoutSeconds
        if done.wait(timeout: .now() + limit) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            done.wait()
            throw WeightLoaderError.readerFailed(path: path, what: "did not finish in \(Int(limit)) s")
        }
        let status = process.terminationStatus
        if process.terminationReason == .uncaughtSignal {
            let name = String(cString: strsignal(status))
            throw WeightLoaderError.readerFailed(path: path, what: "crashed (signal \(status), \(name))")
        }
        if status != 0 && status != typedErrorStatus {
            throw WeightLoaderError.readerFailed(path: path, what: "crashed (exit status \(status))")
        }
    }
}
