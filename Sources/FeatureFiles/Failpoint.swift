// Crash points for the tests of resumable runs: with EXTRACT_FAILPOINT=name:n in the
// environment, the process kills itself with SIGKILL the n-th time it passes `hit(name)`, so a
// test can stop a run exactly there (after the 3rd checkpoint, between two renames of the
// final assembly) as pre-emption or the OOM killer would, with no cleanup of any kind. Without
// the variable `hit` is one comparison.

import Foundation

public enum Failpoint {
    /// "checkpoint": a progress record was written; "row": a row was appended; "commit": a
    /// finished file was renamed into place.
    static let armed: (name: String, count: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["EXTRACT_FAILPOINT"] else { return nil }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
        return (String(parts[0]), n)
    }()
    nonisolated(unsafe) static var passed = 0
    static let lock = NSLock()

    public static func hit(_ name: String) {
        guard let armed, armed.name == name else { return }
        lock.lock()
        passed += 1
        let now = passed == armed.count
        lock.unlock()
        if now { kill(getpid(), SIGKILL) }
    }
}
