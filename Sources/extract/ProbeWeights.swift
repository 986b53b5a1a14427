import ArgumentParser
import Foundation
import WeightLoader

/// The child `WeightFileGuard` runs: opens one weight file's structure and exits. Hidden; a
/// crash or hang here is what the parent reports instead of suffering.
struct ProbeWeights: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe-weights", abstract: "Open a weight file's structure (internal).", shouldDisplay: false)

    @Argument var file: String

    func run() throws {
        WeightFileGuard.probe = nil
        do { _ = try KerasWeightFile.open(file) } catch { throw ExitCode(WeightFileGuard.typedErrorStatus) }
    }

    /// Set once at start: every weight file the command opens is opened by a child first.
    static func install() {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return }
        let me = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        WeightFileGuard.probe = { path in
            try WeightFileGuard.runChild(me, ["probe-weights", path], path: path)
        }
    }
}
