import CLibFuzzer
import Foundation
import WeightLoader

// One input through what `extract inspect` does: `KerasWeightFile.open` (legacy .h5, Keras 3
// .weights.h5 or a .keras zip, told apart by content) and `Inspector.inspect`, then the
// values of the small arrays. Thrown errors are the expected outcome for bad data.

/// The public API opens paths only, so each input goes to one scratch file per process
/// (in /dev/shm when there is one: no disk traffic per execution).
let scratchPath: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return (dir as NSString).appendingPathComponent("fuzz-weights-\(getpid()).h5")
}()

/// Arrays above this many elements are not read: a few header bytes can declare terabytes.
let maxArrayElements = 1 << 20

/// Opens the scratch file in a forked child with a 5 s alarm; true when it exited normally.
func survivesInChild() -> Bool {
    let pid = fork()
    if pid == 0 {
        __sanitizer_set_death_callback(nil)  // its death is the answer, not a finding
        signal(SIGALRM, SIG_DFL)  // libFuzzer's own handler would let it run on
        alarm(5)
        _ = try? KerasWeightFile.open(scratchPath)
        _exit(0)
    }
    guard pid > 0 else { return true }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // Exited (not killed by a signal) with 0: ASan reports a crash and exits 1 instead.
    return status & 0x7f == 0 && (status >> 8) & 0xff == 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard FileManager.default.createFile(atPath: scratchPath, contents: bytes) else {
        fatalError("cannot write \(scratchPath)")
    }
    defer { unlink(scratchPath) }
    // As the CLI does (WeightFileGuard): the structure is opened in a child first, and an input
    // libhdf5 itself dies or hangs on there (its global-heap bugs) is one the CLI refuses in one
    // line; only inputs it survives go on in-process, where coverage is counted.
    guard survivesInChild() else { return 0 }
    guard let file = try? KerasWeightFile.open(scratchPath) else { return 0 }
    _ = try? Inspector.inspect(file)
    for array in file.leafLayers.flatMap(\.arrays).prefix(16) where array.count <= maxArrayElements {
        _ = try? array.values()
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
